"""How long to wait between attempts: exponential backoff with jitter, and rate-limit windows."""
from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries. ``delay(attempt)`` grows as base * 2**(attempt-1) up to ``max_delay``,
    with "equal jitter" (half fixed, half random) so parallel clients do not retry in lockstep."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        capped = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return capped / 2 + rng.uniform(0, capped / 2)


class CallWindow:
    """Our own calls over the last ``seconds``: paces us under ``limit`` and, after a 606, says
    how long until the oldest call leaves Marketo's sliding window (100 calls / 20 s)."""

    def __init__(self, limit: int | None = 50, seconds: float = 20.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= self.seconds:
            self._calls.popleft()

    def wait_before_call(self) -> float:
        """Seconds to wait so the next call stays under the limit (0 when there is room)."""
        with self._lock:
            now = self.clock()
            self._trim(now)
            if self.limit is None or len(self._calls) < self.limit:
                return 0.0
            return max(0.0, self.seconds - (now - self._calls[0]))

    def record_call(self) -> None:
        with self._lock:
            self._calls.append(self.clock())

    def rest_of_window(self, minimum: float = 1.0) -> float:
        """After a 606: wait until the oldest of our calls in the window has left it (the whole
        window when we made none, because other integrations spent the shared budget)."""
        with self._lock:
            now = self.clock()
            self._trim(now)
            if not self._calls:
                return self.seconds
            return max(minimum, self.seconds - (now - self._calls[0]))
