"""Which status-change events an event-triggered job reacts to (pure: no I/O).

A job reacts to an event when its job type lists the event's type in ``triggers``, the event
belongs to the job's account (and event, for an event-level job), it happened within the job's
schedule window, and — when the job's parameters carry a ``status_filter`` list — the new status
is in it. Job types needing more can filter again in ``on_event`` (returning None)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable


def status_matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    wanted = params.get("status_filter")
    if not wanted:
        return True
    return (event.get("current") or {}).get("status") in set(wanted)


def in_window(occurred_at: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or occurred_at >= start) and (end is None or occurred_at <= end)


def retry_delay(attempts: int, base: float = 5.0, cap: float = 3600.0) -> float:
    """Seconds before the next attempt of a failed delivery: doubling from ``base``, at most ``cap``."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def triggered_types(job_types: Iterable[Any], event_type: str) -> set[str]:
    return {jt.key for jt in job_types if event_type in (jt.triggers or ())}
