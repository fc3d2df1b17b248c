"""Fault injection and the API's limits: scripted failures for the next N calls, the shared
rate limit (100 calls / 20 s) and the daily quota."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Fault:
    """One scripted failure: an envelope ``code``, an HTTP ``http_status`` with an HTML body, or
    a dropped connection."""

    code: str | None = None
    http_status: int | None = None
    message: str | None = None
    drop_connection: bool = False
    pass_through: bool = False  # a placeholder: this call is served normally


PASS = Fault(pass_through=True)


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()

    def add(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def take(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class SlidingWindow:
    """At most ``limit`` calls in any ``seconds``; ``None`` as limit turns it off."""

    def __init__(self, limit: int | None, seconds: float, clock: Callable[[], float] = time.time):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

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

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


class DailyQuota:
    def __init__(self, quota: int | None):
        self.quota = quota
        self.used = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            if self.quota is not None and self.used >= self.quota:
                return False
            self.used += 1
            return True

    def reset(self) -> None:
        with self._lock:
            self.used = 0
