"""The run page's rate and time-left estimate, from progress numbers alone."""
from datetime import datetime, timedelta, timezone

from connectors.jobs.progress import duration_words, estimate, rate_words

START = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def test_rate_and_time_left_follow_the_pace_so_far():
    p = estimate(300, 1200, START, START + timedelta(seconds=60))
    assert (p.percent, p.per_second, p.seconds_left) == (25, 5.0, 180)


def test_nothing_done_or_no_start_gives_no_guess():
    assert estimate(0, 100, START, START + timedelta(seconds=30)).per_second is None
    assert estimate(0, 100, START, START + timedelta(seconds=30)).seconds_left is None
    p = estimate(10, 100, None, START)
    assert (p.percent, p.per_second, p.seconds_left) == (10, None, None)


def test_under_a_second_is_too_early_to_tell():
    assert estimate(50, 100, START, START + timedelta(milliseconds=500)).per_second is None


def test_unknown_total_has_a_rate_but_no_time_left_nor_percent():
    p = estimate(90, None, START, START + timedelta(seconds=30))
    assert (p.percent, p.per_second, p.seconds_left) == (None, 3.0, None)
    assert estimate(90, 0, START, START + timedelta(seconds=30)).percent is None


def test_ended_run_reports_its_average_rate_and_nothing_left():
    p = estimate(520, 520, START, START + timedelta(hours=5), ended_at=START + timedelta(seconds=13))
    assert (p.percent, p.per_second, p.seconds_left) == (100, 40.0, None)


def test_more_done_than_total_caps_percent_and_time_left():
    p = estimate(130, 100, START, START + timedelta(seconds=10))
    assert (p.percent, p.seconds_left) == (100, 0)


def test_words():
    assert [duration_words(s) for s in (None, 0, 59, 60, 75, 3600, 7300)] == \
        ["—", "0 s", "59 s", "1 min", "1 min 15 s", "1 h", "2 h 1 min"]
    assert [rate_words(r) for r in (None, 4.25, 1234.0)] == ["—", "4.2 records/s", "1,234 records/s"]
