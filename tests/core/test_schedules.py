"""Pure schedule logic: the schema, the stored rule, fire times across DST changes, the words."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from marshmallow import ValidationError

from connectors import schedules
from connectors.schedules import (
    ScheduleSchema, ScheduleSpec, describe, fire_times, initial_next_run, load_schedule, next_fire,
    spec_from_row, to_columns, to_dict, to_rrule,
)

UTC = timezone.utc
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def recurring(frequency, tz="Europe/Paris", start="2026-01-01T00:00", end="2026-12-31T23:59", **extra):
    return load_schedule({"mode": "recurring", "frequency": frequency, "start_at": start, "end_at": end,
                          "timezone": tz, **extra})


def local(moments, tz):
    return [m.astimezone(tz).strftime("%m-%d %H:%M %Z") for m in moments]


# --- schema ---------------------------------------------------------------------------------------

BASE = {"mode": "recurring", "frequency": "daily", "start_at": "2026-05-01T00:00",
        "end_at": "2026-06-30T00:00"}


@pytest.mark.parametrize("data, field, reason", [
    ({}, "mode", "Missing data"),
    ({"mode": "sometimes"}, "mode", "Must be one of: once, recurring"),
    ({"mode": "recurring"}, "frequency", "Required for a recurring schedule"),
    ({"mode": "recurring", "frequency": "daily"}, "start_at", "Required for a recurring schedule"),
    ({"mode": "recurring", "frequency": "daily"}, "end_at", "Required for a recurring schedule"),
    ({**BASE, "frequency": "yearly"}, "frequency", "Must be one of"),
    ({**BASE, "interval": 0}, "interval", "greater than or equal to 1"),
    ({**BASE, "interval": "2"}, "interval", "Not a valid integer"),
    ({**BASE, "days_of_week": ["MO", "XX"]}, "days_of_week", "Must be one of"),
    ({**BASE, "days_of_week": []}, "days_of_week", "Shorter than minimum length 1"),
    ({**BASE, "frequency": "monthly", "days_of_week": ["MO"]}, "days_of_week", "Only for daily or weekly"),
    ({**BASE, "time_of_day": "25:00"}, "time_of_day", "Not a valid time of day (HH:MM)"),
    ({**BASE, "time_of_day": "2:00"}, "time_of_day", "HH:MM"),
    ({**BASE, "frequency": "minutes", "time_of_day": "02:00"}, "time_of_day", "Only for daily, weekly or monthly"),
    ({**BASE, "day_of_month": 32}, "day_of_month", "less than or equal to 31"),
    ({**BASE, "day_of_month": 3}, "day_of_month", "Only for monthly"),
    ({**BASE, "end_at": "2026-04-30T00:00"}, "end_at", "Must be after start_at"),
    ({**BASE, "end_at": "2026-05-01T00:00"}, "end_at", "Must be after start_at"),
    ({**BASE, "start_at": "soon"}, "start_at", "Not a valid datetime"),
    ({**BASE, "timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown time zone 'Mars/Olympus_Mons'"),
    ({**BASE, "max_runs": 0}, "max_runs", "greater than or equal to 1"),
    ({**BASE, "run_at": "2026-05-01T00:00"}, "run_at", "Only for once schedules"),
    ({"mode": "once", "run_at": "tomorrow"}, "run_at", "Not a valid datetime"),
    ({"mode": "once", "frequency": "daily"}, "frequency", "Only for recurring schedules"),
    ({"mode": "once", "end_at": "2026-05-01T00:00"}, "end_at", "Only for recurring schedules"),
    ({"mode": "once", "when": "now"}, "when", "Unknown field"),
    # 2026-05-05 is a Tuesday: a Monday-only schedule from Tuesday to Wednesday never fires.
    ({**BASE, "frequency": "weekly", "days_of_week": ["MO"], "start_at": "2026-05-05T00:00",
      "end_at": "2026-05-06T00:00"}, "end_at", "No run falls between start_at and end_at"),
])
def test_schema_errors_name_the_field_and_the_reason(data, field, reason):
    with pytest.raises(ValidationError) as info:
        load_schedule(data)
    messages = info.value.messages
    assert field in messages, messages
    found = messages[field]
    if isinstance(found, dict):  # list items report {index: [reasons]}
        found = [m for reasons in found.values() for m in reasons]
    assert any(reason in message for message in found), messages


def test_field_errors_are_reported_together():
    with pytest.raises(ValidationError) as info:
        load_schedule({**BASE, "frequency": "yearly", "interval": -1, "timezone": "Nowhere"})
    assert set(info.value.messages) == {"frequency", "interval", "timezone"}


def test_defaults_come_from_the_caller_and_the_start():
    spec = ScheduleSchema(default_timezone="Europe/Paris").load(
        {"mode": "recurring", "frequency": "weekly", "start_at": "2026-05-05T08:15", "end_at": "2026-06-30T00:00"})
    assert spec == ScheduleSpec(
        mode="recurring", timezone="Europe/Paris", frequency="weekly", interval=1, days_of_week=("TU",),
        time_of_day=time(8, 15), start_at=utc(2026, 5, 5, 6, 15), end_at=utc(2026, 6, 29, 22))
    monthly = recurring("monthly", start="2026-01-31T09:00")
    assert (monthly.day_of_month, monthly.time_of_day) == (31, time(9, 0))
    assert recurring("minutes", interval=15).time_of_day is None


def test_days_are_deduplicated_and_ordered():
    spec = recurring("weekly", days_of_week=["FR", "MO", "FR", "WE"], time_of_day="09:00")
    assert spec.days_of_week == ("MO", "WE", "FR")


def test_naive_times_are_wall_clock_and_aware_ones_are_converted():
    once = load_schedule({"mode": "once", "run_at": "2026-05-03T09:00"}, default_timezone="Europe/Paris")
    assert once.run_at == utc(2026, 5, 3, 7)
    assert load_schedule({"mode": "once", "run_at": "2026-05-03T09:00-04:00", "timezone": "Europe/Paris"}).run_at \
        == utc(2026, 5, 3, 13)
    assert load_schedule({"mode": "once", "run_at": "2026-05-03T09:00Z"}).run_at == utc(2026, 5, 3, 9)
    # A naive time in the spring-forward gap follows the DST rule too: 02:30 -> 03:30 CEST.
    gap = load_schedule({"mode": "once", "run_at": "2026-03-29T02:30", "timezone": "Europe/Paris"})
    assert gap.run_at == utc(2026, 3, 29, 1, 30)
    assert load_schedule({"mode": "once"}) == ScheduleSpec(mode="once", timezone="UTC", run_at=None)


# --- storage --------------------------------------------------------------------------------------

ROUND_TRIP = [
    ({"frequency": "weekly", "days_of_week": ["MO", "TU"], "time_of_day": "02:00"},
     "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU;BYHOUR=2;BYMINUTE=0"),
    ({"frequency": "daily", "interval": 2, "time_of_day": "23:45", "max_runs": 10},
     "FREQ=DAILY;INTERVAL=2;BYHOUR=23;BYMINUTE=45;COUNT=10"),
    ({"frequency": "daily", "days_of_week": ["SA", "SU"], "time_of_day": "06:00"},
     "FREQ=DAILY;INTERVAL=1;BYDAY=SA,SU;BYHOUR=6;BYMINUTE=0"),
    ({"frequency": "monthly", "day_of_month": 15, "time_of_day": "09:30"},
     "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=15;BYHOUR=9;BYMINUTE=30"),
    ({"frequency": "monthly", "interval": 3, "day_of_month": 30, "time_of_day": "09:30"},
     "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=28,29,30;BYSETPOS=-1;BYHOUR=9;BYMINUTE=30"),
    ({"frequency": "minutes", "interval": 15}, "FREQ=MINUTELY;INTERVAL=15"),
    ({"frequency": "hourly", "max_runs": 5}, "FREQ=HOURLY;INTERVAL=1;COUNT=5"),
]


@pytest.mark.parametrize("extra, text", ROUND_TRIP)
def test_rrule_text_and_round_trip(extra, text):
    spec = recurring(tz="America/New_York", **extra)
    assert to_rrule(spec) == text
    columns = to_columns(spec)
    assert columns["rrule"] == text and columns["timezone"] == "America/New_York"
    assert spec_from_row(**columns) == spec
    assert spec_from_row(**{**columns, "rrule": "RRULE:" + text}) == spec
    assert load_schedule(to_dict(spec)) == spec


@pytest.mark.parametrize("extra, text", [case for case in ROUND_TRIP if "BYHOUR" in case[1]])
def test_stored_rule_means_the_same_to_dateutil(extra, text):
    """Other RFC 5545 readers see the same schedule (checked in UTC, where wall time is UTC)."""
    spec = recurring(tz="UTC", **extra)
    start = spec.start_at.replace(tzinfo=None)
    theirs = [d.replace(tzinfo=UTC) for d in rrulestr(text, dtstart=start)[:8]]
    theirs = [d for d in theirs if d <= spec.end_at]
    assert fire_times(spec, spec.start_at - timedelta(seconds=1), limit=8) == theirs


def test_once_columns_round_trip():
    spec = load_schedule({"mode": "once", "run_at": "2026-05-03T09:00Z", "timezone": "Europe/Paris"})
    assert to_columns(spec)["rrule"] is None
    assert spec_from_row(**to_columns(spec)) == spec
    with pytest.raises(ValueError):
        to_rrule(spec)


@pytest.mark.parametrize("bad", [None, "", "FREQ=YEARLY;INTERVAL=1", "garbage"])
def test_unreadable_rules_raise_value_error(bad):
    with pytest.raises(ValueError):
        spec_from_row("recurring", None, bad, utc(2026, 1, 1), utc(2026, 2, 1), "UTC")


# --- DST ------------------------------------------------------------------------------------------

def test_module_documents_the_dst_rule():
    doc = schedules.__doc__
    assert "DST rule" in doc and "spring-forward gap" in doc and "first occurrence" in doc


@pytest.mark.parametrize("tz, at, start, expected", [
    # Paris springs forward on 2026-03-29 at 02:00 -> 03:00.
    ("Europe/Paris", "02:30", "2026-03-27T12:00",
     ["03-28 02:30 CET", "03-29 03:30 CEST", "03-30 02:30 CEST"]),
    ("Europe/Paris", "02:00", "2026-03-27T12:00",
     ["03-28 02:00 CET", "03-29 03:00 CEST", "03-30 02:00 CEST"]),
    # Paris falls back on 2026-10-25 at 03:00 -> 02:00: 02:00-02:59 happen twice; fire at the first.
    ("Europe/Paris", "02:30", "2026-10-23T12:00",
     ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"]),
    ("Europe/Paris", "02:00", "2026-10-23T12:00",
     ["10-24 02:00 CEST", "10-25 02:00 CEST", "10-26 02:00 CET"]),
    # New York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01 at 02:00 -> 01:00.
    ("America/New_York", "02:30", "2026-03-06T12:00",
     ["03-07 02:30 EST", "03-08 03:30 EDT", "03-09 02:30 EDT"]),
    ("America/New_York", "01:30", "2026-10-30T12:00",
     ["10-31 01:30 EDT", "11-01 01:30 EDT", "11-02 01:30 EST"]),
    ("America/New_York", "02:00", "2026-10-30T12:00",
     ["10-31 02:00 EDT", "11-01 02:00 EST", "11-02 02:00 EST"]),
])
def test_daily_across_dst(tz, at, start, expected):
    spec = recurring("daily", tz=tz, start=start, time_of_day=at)
    fires = fire_times(spec, spec.start_at, limit=3)
    assert local(fires, ZoneInfo(tz)) == expected
    assert len(set(fires)) == 3 and fires == sorted(fires)


def test_fall_back_fires_once_not_twice():
    spec = recurring("daily", start="2026-10-24T12:00", time_of_day="02:30")
    first = next_fire(spec, utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    # Asked just after the first 02:30, the second 02:30 (CET, 01:30 UTC) is not a fire time.
    assert next_fire(spec, first) == utc(2026, 10, 26, 1, 30)


def test_gap_fire_is_found_when_asked_from_inside_the_gap_day():
    spec = recurring("daily", start="2026-03-27T12:00", time_of_day="02:30")
    # 01:20 UTC reads 03:20 CEST: later on the wall than 02:30, yet the gap fire (01:30 UTC) is ahead.
    assert next_fire(spec, utc(2026, 3, 29, 1, 20)) == utc(2026, 3, 29, 1, 30)


@pytest.mark.parametrize("tz, start", [
    ("Europe/Paris", "2026-03-28T22:00"), ("Europe/Paris", "2026-10-24T22:00"),
    ("America/New_York", "2026-03-07T22:00"), ("America/New_York", "2026-10-31T22:00"),
])
def test_hourly_is_sixty_real_minutes_across_dst(tz, start):
    spec = recurring("hourly", tz=tz, start=start)
    fires = fire_times(spec, spec.start_at - timedelta(seconds=1), limit=8)
    assert fires[0] == spec.start_at
    assert {b - a for a, b in zip(fires, fires[1:])} == {timedelta(hours=1)}
    walls = [f.astimezone(ZoneInfo(tz)).replace(tzinfo=None) for f in fires]
    wall_steps = {b - a for a, b in zip(walls, walls[1:])}
    assert wall_steps - {timedelta(hours=1)}, "the local clock should show a skipped or a repeated hour"


def test_minutes_step_in_elapsed_time():
    spec = recurring("minutes", start="2026-10-25T01:50", interval=15)
    fires = fire_times(spec, spec.start_at, limit=10)
    assert {b - a for a, b in zip(fires, fires[1:])} == {timedelta(minutes=15)}
    assert local(fires, PARIS)[:2] == ["10-25 02:05 CEST", "10-25 02:20 CEST"]
    assert "10-25 02:05 CET" in local(fires, PARIS)
    assert next_fire(spec, spec.start_at + timedelta(minutes=7)) == spec.start_at + timedelta(minutes=15)


def test_weekly_with_days_across_dst():
    # 2026-03-23 is a Monday; Paris changes on Sunday 29th.
    spec = recurring("weekly", start="2026-03-23T00:00", days_of_week=["MO", "WE", "SU"], time_of_day="09:00")
    assert local(fire_times(spec, spec.start_at, limit=5), PARIS) == [
        "03-23 09:00 CET", "03-25 09:00 CET", "03-29 09:00 CEST", "03-30 09:00 CEST", "04-01 09:00 CEST"]
    fortnightly = recurring("weekly", start="2026-03-23T00:00", days_of_week=["MO"], interval=2, time_of_day="09:00")
    assert local(fire_times(fortnightly, fortnightly.start_at, limit=3), PARIS) == [
        "03-23 09:00 CET", "04-06 09:00 CEST", "04-20 09:00 CEST"]


def test_monthly():
    spec = recurring("monthly", start="2026-01-31T09:00", tz="UTC")
    assert [f.date().isoformat() for f in fire_times(spec, utc(2026, 1, 1), limit=4)] == [
        "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    quarterly = recurring("monthly", start="2026-01-01T00:00", day_of_month=15, interval=3, time_of_day="08:00")
    assert local(fire_times(quarterly, utc(2026, 1, 1), limit=3), PARIS) == [
        "01-15 08:00 CET", "04-15 08:00 CEST", "07-15 08:00 CEST"]
    # The 29th at 02:30 lands in Paris's gap in March.
    gap = recurring("monthly", start="2026-02-01T00:00", day_of_month=29, time_of_day="02:30")
    assert local(fire_times(gap, utc(2026, 2, 1), limit=3), PARIS) == [
        "02-28 02:30 CET", "03-29 03:30 CEST", "04-29 02:30 CEST"]


def test_end_at_is_respected_and_inclusive():
    spec = recurring("daily", tz="UTC", start="2026-05-01T00:00", end="2026-05-03T09:00", time_of_day="09:00")
    assert fire_times(spec, utc(2026, 4, 1), limit=10) == [utc(2026, 5, d, 9) for d in (1, 2, 3)]
    assert next_fire(spec, utc(2026, 5, 3, 9)) is None
    minutes = recurring("minutes", tz="UTC", start="2026-05-01T00:00", end="2026-05-01T00:59", interval=20)
    assert fire_times(minutes, utc(2026, 4, 1), limit=10) == [utc(2026, 5, 1, 0, m) for m in (0, 20, 40)]


@pytest.mark.parametrize("frequency", ["minutes", "hourly", "daily", "weekly", "monthly"])
def test_max_runs(frequency):
    spec = recurring(frequency, max_runs=3)
    fires = fire_times(spec, spec.start_at - timedelta(days=1), limit=10)
    assert len(fires) == 3
    assert next_fire(spec, fires[-1]) is None
    assert next_fire(spec, fires[0]) == fires[1]  # counted from the start, not from `after`


def test_once():
    spec = load_schedule({"mode": "once", "run_at": "2026-05-03T09:00Z"})
    assert next_fire(spec, utc(2026, 5, 3, 8)) == utc(2026, 5, 3, 9)
    assert next_fire(spec, utc(2026, 5, 3, 9)) is None
    now = utc(2026, 5, 1, 12)
    assert initial_next_run(spec, now) == utc(2026, 5, 3, 9)
    assert initial_next_run(spec, utc(2026, 6, 1)) == utc(2026, 5, 3, 9)  # late: due at once
    right_now = load_schedule({"mode": "once"})
    assert initial_next_run(right_now, now) == now
    assert next_fire(right_now, now) is None


def test_initial_next_run_recurring():
    spec = recurring("daily", tz="UTC", start="2026-05-01T09:00", time_of_day="09:00")
    assert initial_next_run(spec, utc(2026, 4, 1)) == utc(2026, 5, 1, 9)  # before start: the start
    assert initial_next_run(spec, utc(2026, 5, 3, 9)) == utc(2026, 5, 3, 9)  # at a fire time: that one
    assert initial_next_run(spec, utc(2026, 5, 3, 9, 1)) == utc(2026, 5, 4, 9)
    assert initial_next_run(spec, utc(2027, 1, 1)) is None  # after the end


def test_naive_after_is_rejected():
    with pytest.raises(ValueError):
        next_fire(recurring("hourly"), datetime(2026, 5, 1))


# --- words ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, text", [
    ({"frequency": "weekly", "days_of_week": ["MO", "TU", "WE", "TH", "FR"], "time_of_day": "02:00"},
     "Every weekday at 02:00 Europe/Paris, from 1 May 2026 until 30 June 2026"),
    ({"frequency": "daily", "time_of_day": "02:00"}, "Every day at 02:00 Europe/Paris, from 1 May 2026 until 30 June 2026"),
    ({"frequency": "daily", "interval": 2, "time_of_day": "02:00"},
     "Every 2 days at 02:00 Europe/Paris, from 1 May 2026 until 30 June 2026"),
    ({"frequency": "weekly", "days_of_week": ["MO", "TH"], "time_of_day": "18:30"},
     "Every Monday and Thursday at 18:30 Europe/Paris, from 1 May 2026 until 30 June 2026"),
    ({"frequency": "weekly", "interval": 2, "days_of_week": ["MO", "WE", "FR"], "time_of_day": "07:00"},
     "Every 2 weeks on Monday, Wednesday and Friday at 07:00 Europe/Paris, from 1 May 2026 until 30 June 2026"),
    ({"frequency": "monthly", "day_of_month": 1, "time_of_day": "06:00", "max_runs": 2},
     "Every month on the 1st at 06:00 Europe/Paris, from 1 May 2026 until 30 June 2026, at most 2 runs"),
    ({"frequency": "monthly", "interval": 2, "day_of_month": 31, "time_of_day": "06:00"},
     "Every 2 months on the 31st (or the month's last day) at 06:00 Europe/Paris, from 1 May 2026 until 30 June 2026"),
    ({"frequency": "minutes", "interval": 15},
     "Every 15 minutes, from 1 May 2026 00:00 until 30 June 2026 23:59 Europe/Paris"),
    ({"frequency": "hourly"}, "Every hour, from 1 May 2026 00:00 until 30 June 2026 23:59 Europe/Paris"),
    ({"frequency": "minutes", "max_runs": 1}, "Every minute, from 1 May 2026 00:00 until 30 June 2026 23:59 "
                                              "Europe/Paris, at most 1 run"),
])
def test_describe_recurring(data, text):
    assert describe(recurring(start="2026-05-01T00:00", end="2026-06-30T23:59", **data)) == text


def test_describe_once():
    assert describe(load_schedule({"mode": "once"})) == "Once, now"
    spec = load_schedule({"mode": "once", "run_at": "2026-05-03T07:00Z", "timezone": "Europe/Paris"})
    assert describe(spec) == "Once on 3 May 2026 at 09:00 Europe/Paris"
