"""Template filters: times shown in the page's time zone, statuses in words."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask

from .joblist import words

RESULT_CLASSES = {"succeeded": "ok", "partially_failed": "warn", "quota_exhausted": "warn", "failed": "bad", "cancelled": "muted",
                  "queued": "info", "running": "info", "scheduled": "info", "listening": "info", "ended": "muted", "disabled": "muted"}


def local_time(moment: datetime | None, tz_name: str | None = None, with_zone: bool = True) -> str:
    """``2026-06-09 09:00 CEST``: a stored UTC time as the people of that event read it."""
    if moment is None:
        return "—"
    try:
        tz = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" + (" %Z" if with_zone else ""))


def iso(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def status_class(status: str | None) -> str:
    return RESULT_CLASSES.get((status or "").lower().replace(" ", "_"), "muted")


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(iso, "iso")
    app.add_template_filter(words, "words")
    app.add_template_filter(status_class, "status_class")
