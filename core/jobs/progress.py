"""How fast a run goes and how long it has left, from its progress alone (pure: no I/O, no clock).

The rate is records done per second since the run started; the time left assumes the run keeps
that rate. Both are None while they would be guesses: no start time, nothing done yet, no known
total (for the time left), or less than a second elapsed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    percent: int | None  # 0-100, None without a total
    per_second: float | None  # records per second since the start
    seconds_left: int | None  # at that rate, None when unknown (or the run has ended)


def estimate(done: int, total: int | None, started_at: datetime | None, now: datetime,
             ended_at: datetime | None = None) -> Progress:
    """The run's progress at ``now`` (or over its whole life once ``ended_at`` is set)."""
    done = max(int(done or 0), 0)
    total = total if total is not None and total > 0 else None
    percent = min(100, round(100 * done / total)) if total else None
    end = ended_at or now
    elapsed = (end - started_at).total_seconds() if started_at is not None else 0.0
    per_second = done / elapsed if elapsed >= 1.0 and done > 0 else None
    seconds_left = None
    if per_second and total and ended_at is None:
        seconds_left = max(0, round((total - done) / per_second))
    return Progress(done, total, percent, round(per_second, 1) if per_second is not None else None, seconds_left)


def duration_words(seconds: int | None) -> str:
    """``75`` -> "1 min 15 s"; ``7300`` -> "2 h 1 min"; None -> "—"."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def rate_words(per_second: float | None) -> str:
    """Records per second as the run page shows it ("—" when unknown)."""
    if per_second is None:
        return "—"
    return f"{per_second:,.1f} records/s" if per_second < 100 else f"{per_second:,.0f} records/s"
