"""How often to retry and how long to wait (spec §4, §8): exponential backoff with jitter, capped
at about five minutes; a ``Retry-After`` header wins when Eloqua (or a proxy) sends one."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """``delay(attempt)`` grows as base * 2**(attempt-1) up to ``max_delay`` with "equal jitter"
    (half fixed, half random), so workers that were throttled together do not retry together."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 300.0

    def delay(self, attempt: int, rng: random.Random, retry_after: str | None = None) -> float:
        told = parse_retry_after(retry_after)
        if told is not None:
            return min(told, self.max_delay)
        capped = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return capped / 2 + rng.uniform(0, capped / 2)


@dataclass(frozen=True)
class PollPolicy:
    """Sync polling (spec §5.1: tap-eloqua polls 2 s .. 300 s, deadline 6 h): the wait doubles
    from ``first_delay`` up to ``max_delay`` with jitter; past ``deadline`` seconds the client
    stops waiting and reports the sync as still running."""

    first_delay: float = 2.0
    max_delay: float = 300.0
    deadline: float = 6 * 3600.0

    def delay(self, poll: int, rng: random.Random) -> float:
        capped = min(self.max_delay, self.first_delay * 2 ** max(0, poll - 1))
        return capped / 2 + rng.uniform(0, capped / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), None if absent/garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
