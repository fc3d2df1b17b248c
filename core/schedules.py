"""Schedules: validate what users submit, store it as an RFC 5545 rule, compute fire times.

Pure functions, no I/O. Every datetime crossing this module's boundary is aware UTC, except the
naive datetimes a user may submit, which are wall-clock time in the schedule's time zone.

DST rule
--------
* "daily", "weekly" and "monthly" schedules are wall-clock schedules in the schedule's time zone:
  "every day at 02:30 Europe/Paris" fires when clocks in Paris show 02:30, whatever the UTC offset.
* A wall time that does not exist that day (the spring-forward gap) fires at the same offset after
  the gap, i.e. read with the offset in force before the change: 02:30 on 2026-03-29 in Paris
  fires at 03:30 CEST (01:30 UTC). The next day it is back to 02:30.
* A wall time that happens twice (the fall-back overlap) fires once, at its first occurrence:
  02:30 on 2026-10-25 in Paris fires at 02:30 CEST (00:30 UTC), not again at 02:30 CET.
* "minutes" and "hourly" schedules step in elapsed time from ``start_at``: every hour is 60 real
  minutes across a change, so their local clock readings shift by the change.
* Naive ``run_at`` / ``start_at`` / ``end_at`` values follow the same two rules.
* ``end_at`` is inclusive; ``max_runs`` counts fire times (a slot skipped because the previous run
  was still going counts too), so the rule can carry it as COUNT.

The gap and overlap rules are exactly PEP 495's ``fold=0`` reading, which ``zoneinfo`` implements,
so the code is one line (``_to_utc``) and the tests pin it down.

Monthly schedules fire on ``day_of_month`` (default: the start's day); a day past the 28th falls on
the month's last day in shorter months (RRULE ``BYMONTHDAY=28,29,30;BYSETPOS=-1`` for the 30th).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as rr
from marshmallow import Schema, ValidationError, fields, post_load, validate

__all__ = ["ScheduleSchema", "ScheduleSpec", "build_spec", "describe", "fire_times", "initial_next_run",
           "load_schedule", "next_fire", "parse_rrule", "spec_from_row", "to_columns", "to_dict", "to_rrule",
           "zone", "FREQUENCIES", "DAYS", "MODES"]

UTC = timezone.utc
MODES = ("once", "recurring")
FREQUENCIES = ("minutes", "hourly", "daily", "weekly", "monthly")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))
WALL_CLOCK = ("daily", "weekly", "monthly")
ELAPSED = {"minutes": timedelta(minutes=1), "hourly": timedelta(hours=1)}
RRULE_FREQ = {"minutes": "MINUTELY", "hourly": "HOURLY", "daily": "DAILY", "weekly": "WEEKLY",
              "monthly": "MONTHLY"}
_DATEUTIL_FREQ = {"daily": rr.DAILY, "weekly": rr.WEEKLY, "monthly": rr.MONTHLY}
_DATEUTIL_DAY = dict(zip(DAYS, (rr.MO, rr.TU, rr.WE, rr.TH, rr.FR, rr.SA, rr.SU)))
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class ScheduleSpec:
    """A validated schedule. Datetimes are aware UTC; ``run_at=None`` on a once schedule means now."""

    mode: str
    timezone: str = "UTC"
    run_at: datetime | None = None
    frequency: str | None = None
    interval: int = 1
    days_of_week: tuple[str, ...] = ()
    time_of_day: time | None = None
    day_of_month: int | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_runs: int | None = None


# --- time zones ---------------------------------------------------------------------------------

def zone(name: str) -> ZoneInfo:
    """The IANA zone, or a ValueError whose text can be shown to a user."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: 'America' is a folder
        raise ValueError(f"Unknown time zone {name!r}.") from None


def _check_zone(name: str) -> None:
    try:
        zone(name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """Wall time -> UTC by the DST rule: fold=0 moves a gap time forward and picks an overlap's first."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _as_utc(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    return _to_utc(value, tz) if value.tzinfo is None else value.astimezone(UTC)


# --- the schema ---------------------------------------------------------------------------------

#: Dates a schedule may name: far enough for any event, near enough that the conversions to UTC
#: and the next-fire arithmetic never leave ``datetime``'s range (year 1 or 9999 overflowed).
YEARS = (2000, 2999)


def _within_years(value: datetime) -> bool:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValidationError(f"Must be between the years {YEARS[0]} and {YEARS[1]}.")
    return True


class ScheduleSchema(Schema):
    """Validates a submitted schedule dict and loads it as a ``ScheduleSpec``.

    ``default_timezone`` (e.g. the event's) applies when the dict names none. Errors are keyed by
    field, each with the reason, as marshmallow does.
    """

    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    run_at = fields.DateTime(allow_none=True, load_default=None, validate=_within_years)
    frequency = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(FREQUENCIES))
    interval = fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(min=1))
    days_of_week = fields.List(fields.String(validate=validate.OneOf(DAYS)), allow_none=True,
                               load_default=None, validate=validate.Length(min=1))
    time_of_day = fields.String(allow_none=True, load_default=None,
                                validate=validate.Regexp(_HHMM, error="Not a valid time of day (HH:MM)."))
    day_of_month = fields.Integer(strict=True, allow_none=True, load_default=None,
                                  validate=validate.Range(min=1, max=31))
    start_at = fields.DateTime(allow_none=True, load_default=None, validate=_within_years)
    end_at = fields.DateTime(allow_none=True, load_default=None, validate=_within_years)
    timezone = fields.String(allow_none=True, load_default=None, validate=lambda name: _check_zone(name))
    max_runs = fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(min=1))

    def __init__(self, *args, default_timezone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.default_timezone = default_timezone

    @post_load
    def _make_spec(self, data: dict, **_kwargs) -> ScheduleSpec:
        return build_spec(data, self.default_timezone)


def load_schedule(data: dict, default_timezone: str = "UTC") -> ScheduleSpec:
    """Shortcut for ``ScheduleSchema(default_timezone=...).load(data)``."""
    return ScheduleSchema(default_timezone=default_timezone).load(data)


def build_spec(data: dict, default_timezone: str = "UTC") -> ScheduleSpec:
    """Cross-field checks and defaults on field-valid data; raises ValidationError keyed by field."""
    errors: dict[str, list[str]] = {}
    tz_name = data.get("timezone") or default_timezone
    try:
        tz = zone(tz_name)
    except ValueError as exc:
        raise ValidationError({"timezone": [str(exc)]}) from None
    if data["mode"] == "once":
        for name in ("frequency", "interval", "days_of_week", "time_of_day", "day_of_month",
                     "start_at", "end_at", "max_runs"):
            if data.get(name) is not None:
                errors[name] = ["Only for recurring schedules."]
        if errors:
            raise ValidationError(errors)
        return ScheduleSpec(mode="once", timezone=tz_name, run_at=_as_utc(data.get("run_at"), tz))
    return _build_recurring(data, tz_name, tz, errors)


def _build_recurring(data: dict, tz_name: str, tz: ZoneInfo, errors: dict) -> ScheduleSpec:
    freq = data.get("frequency")
    if data.get("run_at") is not None:
        errors["run_at"] = ["Only for once schedules; use start_at."]
    for name in ("frequency", "start_at", "end_at"):
        if data.get(name) is None:
            errors[name] = ["Required for a recurring schedule."]
    start, end = _as_utc(data.get("start_at"), tz), _as_utc(data.get("end_at"), tz)
    if start and end and end <= start:
        errors["end_at"] = ["Must be after start_at."]
    if data.get("days_of_week") and freq not in ("daily", "weekly"):
        errors["days_of_week"] = ["Only for daily or weekly schedules."]
    if data.get("time_of_day") and freq not in WALL_CLOCK:
        errors["time_of_day"] = ["Only for daily, weekly or monthly schedules."]
    if data.get("day_of_month") and freq != "monthly":
        errors["day_of_month"] = ["Only for monthly schedules."]
    if errors:
        raise ValidationError(errors)
    local_start = start.astimezone(tz)
    days = tuple(d for d in DAYS if d in set(data.get("days_of_week") or ()))
    if freq == "weekly" and not days:
        days = (DAYS[local_start.weekday()],)
    tod = None
    if freq in WALL_CLOCK:
        tod = time.fromisoformat(data["time_of_day"]) if data.get("time_of_day") else \
            local_start.time().replace(second=0, microsecond=0)
    spec = ScheduleSpec(
        mode="recurring", timezone=tz_name, frequency=freq, interval=data.get("interval") or 1,
        days_of_week=days, time_of_day=tod,
        day_of_month=(data.get("day_of_month") or local_start.day) if freq == "monthly" else None,
        start_at=start, end_at=end, max_runs=data.get("max_runs"))
    if initial_next_run(spec, start) is None:
        raise ValidationError({"end_at": ["No run falls between start_at and end_at."]})
    return spec


def to_dict(spec: ScheduleSpec) -> dict:
    """The submitted shape again (ISO UTC datetimes), so ``load_schedule(to_dict(s)) == s``."""
    iso = lambda d: d.isoformat().replace("+00:00", "Z") if d else None  # noqa: E731
    if spec.mode == "once":
        return {"mode": "once", "run_at": iso(spec.run_at), "timezone": spec.timezone}
    out = {"mode": "recurring", "frequency": spec.frequency, "interval": spec.interval,
           "start_at": iso(spec.start_at), "end_at": iso(spec.end_at), "timezone": spec.timezone}
    if spec.days_of_week:
        out["days_of_week"] = list(spec.days_of_week)
    if spec.time_of_day:
        out["time_of_day"] = spec.time_of_day.strftime("%H:%M")
    if spec.day_of_month:
        out["day_of_month"] = spec.day_of_month
    if spec.max_runs:
        out["max_runs"] = spec.max_runs
    return out


# --- storage: RRULE text and columns ------------------------------------------------------------

def to_rrule(spec: ScheduleSpec) -> str:
    """RFC 5545 RRULE text (no DTSTART/UNTIL: those live in their own UTC columns)."""
    if spec.mode != "recurring":
        raise ValueError("only a recurring schedule has a rule")
    parts = [f"FREQ={RRULE_FREQ[spec.frequency]}", f"INTERVAL={spec.interval}"]
    if spec.days_of_week:
        parts.append("BYDAY=" + ",".join(spec.days_of_week))
    if spec.day_of_month:
        if spec.day_of_month > 28:  # "the 31st, or the month's last day"
            parts.append("BYMONTHDAY=" + ",".join(map(str, range(28, spec.day_of_month + 1))))
            parts.append("BYSETPOS=-1")
        else:
            parts.append(f"BYMONTHDAY={spec.day_of_month}")
    if spec.time_of_day:
        parts += [f"BYHOUR={spec.time_of_day.hour}", f"BYMINUTE={spec.time_of_day.minute}"]
    if spec.max_runs:
        parts.append(f"COUNT={spec.max_runs}")
    return ";".join(parts)


def parse_rrule(text: str) -> dict[str, str]:
    """``"FREQ=DAILY;INTERVAL=1"`` -> ``{"FREQ": "DAILY", "INTERVAL": "1"}`` (an ``RRULE:`` prefix is fine)."""
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    try:
        return {k.strip().upper(): v.strip().upper() for k, v in (p.split("=", 1) for p in text.split(";") if p)}
    except ValueError:
        raise ValueError(f"not an RRULE: {text!r}") from None


def spec_from_row(mode: str, run_at: datetime | None, rrule: str | None, start_at: datetime | None,
                  end_at: datetime | None, timezone: str) -> ScheduleSpec:
    """Rebuild the spec from a Schedule row's columns (the inverse of ``to_columns``)."""
    if mode == "once":
        return ScheduleSpec(mode="once", timezone=timezone, run_at=run_at)
    if not rrule:
        raise ValueError("a recurring schedule needs a rule")
    parts = parse_rrule(rrule)
    freq = {v: k for k, v in RRULE_FREQ.items()}.get(parts.get("FREQ", ""))
    if freq is None:
        raise ValueError(f"unsupported FREQ in {rrule!r}")
    month_days = [int(d) for d in parts["BYMONTHDAY"].split(",")] if "BYMONTHDAY" in parts else []
    tod = time(int(parts["BYHOUR"]), int(parts.get("BYMINUTE", 0))) if "BYHOUR" in parts else None
    return ScheduleSpec(
        mode="recurring", timezone=timezone, frequency=freq, interval=int(parts.get("INTERVAL", 1)),
        days_of_week=tuple(d for d in DAYS if d in parts.get("BYDAY", "").split(",")),
        time_of_day=tod, day_of_month=max(month_days) if month_days else None,
        start_at=start_at, end_at=end_at, max_runs=int(parts["COUNT"]) if "COUNT" in parts else None)


def to_columns(spec: ScheduleSpec) -> dict:
    """Values for the Schedule row's columns (``next_run_at`` aside)."""
    recurring = spec.mode == "recurring"
    return {"mode": spec.mode, "run_at": spec.run_at, "rrule": to_rrule(spec) if recurring else None,
            "start_at": spec.start_at, "end_at": spec.end_at, "timezone": spec.timezone}


# --- fire times ---------------------------------------------------------------------------------

def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("expected an aware datetime")


def _wall_rule(spec: ScheduleSpec, tz: ZoneInfo) -> rr.rrule:
    """The rule over naive wall times in the schedule's zone, anchored at the start's wall time."""
    kwargs = {"dtstart": _wall(spec.start_at, tz), "interval": spec.interval, "count": spec.max_runs,
              "byhour": spec.time_of_day.hour, "byminute": spec.time_of_day.minute, "bysecond": 0}
    if spec.days_of_week:
        kwargs["byweekday"] = tuple(_DATEUTIL_DAY[d] for d in spec.days_of_week)
    if spec.day_of_month:
        if spec.day_of_month > 28:
            kwargs.update(bymonthday=tuple(range(28, spec.day_of_month + 1)), bysetpos=-1)
        else:
            kwargs["bymonthday"] = spec.day_of_month
    return rr.rrule(_DATEUTIL_FREQ[spec.frequency], **kwargs)


def _next_wall_clock(spec: ScheduleSpec, after: datetime) -> datetime | None:
    tz = zone(spec.timezone)
    # Start two days early: a gap can push a fire past wall times later than its own.
    lower = _wall(after, tz) - timedelta(days=2)
    for wall in _wall_rule(spec, tz).xafter(lower, inc=True):
        fire = _to_utc(wall, tz)
        if spec.end_at and fire > spec.end_at:
            return None
        if fire > after and fire >= spec.start_at:
            return fire
    return None


def _next_elapsed(spec: ScheduleSpec, after: datetime) -> datetime | None:
    step = ELAPSED[spec.frequency] * spec.interval
    k = 0 if after < spec.start_at else (after - spec.start_at) // step + 1
    if spec.max_runs is not None and k >= spec.max_runs:
        return None
    fire = spec.start_at + k * step
    return None if spec.end_at and fire > spec.end_at else fire


def next_fire(spec: ScheduleSpec, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (aware), in UTC; None when the schedule is over."""
    _require_aware(after)
    after = after.astimezone(UTC)
    if spec.mode == "once":
        return spec.run_at if spec.run_at and spec.run_at > after else None
    if spec.frequency in ELAPSED:
        return _next_elapsed(spec, after)
    return _next_wall_clock(spec, after)


def initial_next_run(spec: ScheduleSpec, now: datetime) -> datetime | None:
    """``next_run_at`` for a new schedule: once fires at ``run_at`` (now when absent; a past one is
    due at once), recurring at its first fire at or after max(now, start)."""
    _require_aware(now)
    now = now.astimezone(UTC)
    if spec.mode == "once":
        return spec.run_at or now
    return next_fire(spec, max(now, spec.start_at) - _TINY)


def fire_times(spec: ScheduleSpec, after: datetime, limit: int = 10) -> list[datetime]:
    """The next ``limit`` fire times after ``after`` (for previews and tests)."""
    out: list[datetime] = []
    while len(out) < limit and (after := next_fire(spec, after)) is not None:
        out.append(after)
    return out


# --- words ---------------------------------------------------------------------------------------

def _date(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _days_phrase(days: tuple[str, ...], plural: bool) -> str:
    if set(days) == set(DAYS):
        return "days" if plural else "day"
    if set(days) == set(DAYS[:5]):
        return "weekdays" if plural else "weekday"
    return _join([DAY_NAMES[d] for d in days])


def _every(n: int, unit: str) -> str:
    return f"Every {unit}" if n == 1 else f"Every {n} {unit}s"


def _frequency_phrase(spec: ScheduleSpec) -> str:
    freq, n, days = spec.frequency, spec.interval, spec.days_of_week
    if freq == "minutes":
        return _every(n, "minute")
    if freq == "hourly":
        return _every(n, "hour")
    if freq == "monthly":
        tail = " (or the month's last day)" if spec.day_of_month > 28 else ""
        return f"{_every(n, 'month')} on the {_ordinal(spec.day_of_month)}{tail}"
    if freq == "weekly" and n == 1 or freq == "daily" and days and n == 1:
        return f"Every {_days_phrase(days, plural=False)}"
    unit = "week" if freq == "weekly" else "day"
    return _every(n, unit) + (f" on {_days_phrase(days, plural=True)}" if days else "")


def describe(spec: ScheduleSpec) -> str:
    """The schedule in words, in its own time zone: "Every weekday at 02:00 Europe/Paris, from ..."."""
    tz = zone(spec.timezone)
    if spec.mode == "once":
        if spec.run_at is None:
            return "Once, now"
        local = spec.run_at.astimezone(tz)
        return f"Once on {_date(local)} at {local:%H:%M} {spec.timezone}"
    start, end = spec.start_at.astimezone(tz), spec.end_at.astimezone(tz)
    head = _frequency_phrase(spec)
    if spec.frequency in ELAPSED:
        text = (f"{head}, from {_date(start)} {start:%H:%M} until {_date(end)} {end:%H:%M} "
                f"{spec.timezone}")
    else:
        text = f"{head} at {spec.time_of_day:%H:%M} {spec.timezone}, from {_date(start)} until {_date(end)}"
    if spec.max_runs:
        text += f", at most {spec.max_runs} run{'s' if spec.max_runs > 1 else ''}"
    return text
