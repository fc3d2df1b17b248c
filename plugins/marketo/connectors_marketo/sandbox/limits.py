"""Marketo's limits as the sandbox enforces them: the shared rate window (100 calls / 20 s ->
606), concurrent calls (10 in flight -> 615) and the daily quota (50,000 -> 607, reset at
midnight US Central). All take an injected clock so tests can move time by hand."""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from typing import Callable

#: Marketo resets the quota at 00:00 CST; a fixed UTC-6 (daylight saving ignored) [inference]
CENTRAL = timezone(timedelta(hours=-6))


class SlidingWindow:
    """At most ``limit`` calls in any ``seconds``; ``None`` as limit turns it off."""

    def __init__(self, limit: int | None, seconds: float, clock: Callable[[], float] = time.time):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def configure(self, limit: int | None, seconds: float) -> None:
        with self._lock:
            self.limit, self.seconds = limit, seconds

    def admit(self) -> bool:
        """Count the call and say yes, or say no (a refused call is not counted)."""
        with self._lock:
            now = self.clock()
            while self._calls and now - self._calls[0] >= self.seconds:
                self._calls.popleft()
            if self.limit is not None and len(self._calls) >= self.limit:
                return False
            self._calls.append(now)
            return True

    @property
    def message(self) -> str:
        return f"Max rate limit '{self.limit}' exceeded with in '{self.seconds:g}' secs"

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


class InFlight:
    """Requests being served right now; past ``limit`` a new one is refused (615) and not counted."""

    def __init__(self, limit: int | None = 10):
        self.limit = limit
        self.current = 0
        self.peak = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.limit is not None and self.current >= self.limit:
                return False
            self.current += 1
            self.peak = max(self.peak, self.current)
            return True

    def leave(self) -> None:
        with self._lock:
            self.current -= 1


class DailyQuota:
    """Calls counted per API user for the current day (US Central) of ``clock``."""

    def __init__(self, quota: int | None, clock: Callable[[], float] = time.time):
        self.quota = quota
        self.clock = clock
        self._lock = threading.Lock()
        self._day = self.today()
        self._by_user: Counter[str] = Counter()

    def today(self) -> str:
        return datetime.fromtimestamp(self.clock(), CENTRAL).date().isoformat()

    def _roll(self) -> None:
        day = self.today()
        if day != self._day:
            self._day, self._by_user = day, Counter()

    def admit(self, user: str | None = None) -> bool:
        with self._lock:
            self._roll()
            if self.quota is not None and sum(self._by_user.values()) >= self.quota:
                return False
            self._by_user[user or "unknown"] += 1
            return True

    @property
    def used(self) -> int:
        with self._lock:
            self._roll()
            return sum(self._by_user.values())

    def by_user(self) -> dict[str, int]:
        with self._lock:
            self._roll()
            return dict(self._by_user)

    def set_used(self, calls: int, user: str = "other-integration") -> None:
        """Pretend ``user`` (another integration, by default) already made ``calls`` today."""
        with self._lock:
            self._roll()
            self._by_user[user] = calls

    def reset(self) -> None:
        with self._lock:
            self._by_user.clear()
