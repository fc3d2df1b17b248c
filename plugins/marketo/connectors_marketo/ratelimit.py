"""Client-side pacing: calls per sliding window and calls in flight (spec §1.6, §5.4).

Marketo allows 100 calls per 20 s and 10 concurrent calls per *instance*, shared by every
integration; Adobe asks one integration to stay under 50 / 20 s and a couple in flight. So one
``RateLimiter`` serves every client (every job run) of the same instance and API user in a
process: ``shared_limiter()`` hands it out from a thread-safe registry.

A call holds its place in the window from the moment it starts until the window has passed
since it *reached Marketo*, which counts a call when its request arrives. That moment lies
between the call's start and its finish; we take the finish, or ``arrival_margin`` (1 s) after
the start when the call took longer — a request body (at most 1 MB) arrives well within a second,
and the rest of a long call is Marketo working on it. Counting from the finish alone would idle
for the length of every slow call in each window (about 10 % of the time at Adobe's 50 / 20 s
with 300-lead syncs).
"""
from __future__ import annotations

import bisect
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

#: how long a thread waiting for a free concurrency slot sleeps between checks (real seconds);
#: a release wakes it earlier
_WAKE_SECONDS = 0.5


@dataclass(frozen=True)
class RateLimits:
    """``None`` turns a limit off."""

    calls_per_window: int | None = 50
    window_seconds: float = 20.0
    max_concurrency: int | None = 2
    arrival_margin: float = 1.0

    def __post_init__(self) -> None:
        if self.calls_per_window is not None and self.calls_per_window < 1:
            raise ValueError("calls_per_window must be at least 1")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")


class RateLimiter:
    """Thread-safe. ``clock`` must be monotonic; waits for the window go through the ``sleep``
    each caller passes (so tests can fake time), waits for a concurrency slot are real."""

    def __init__(self, limits: RateLimits = RateLimits(), clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self._cond = threading.Condition()
        self._in_flight = 0
        self._finished: list[float] = []  # arrival times (sorted) of calls still inside the window
        self._hold_until = float("-inf")
        self._hold = 0  # generation of the latest hold; each thread waits out each hold once
        self._served = threading.local()

    def configure(self, limits: RateLimits) -> None:
        """New limits for every client sharing this limiter (the last configuration wins)."""
        with self._cond:
            self.limits = limits
            self._cond.notify_all()

    @contextmanager
    def slot(self, sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
        """``with limiter.slot(): send the request`` — waits for room, then holds a place."""
        self.acquire(sleep)
        try:
            yield
        finally:
            self.release()

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait until one more call fits in the window and under the concurrency cap, and count it.

        Each thread waits out a hold set after a 606 (``hold_off``) once, without re-checking
        the clock: its ``sleep`` is trusted to have waited, so a fake sleep in tests does not
        spin, and the thread that set the hold (and slept itself) does not wait twice."""
        while True:
            with self._cond:
                now = self.clock()
                limits = self.limits
                if self._hold_until > now and getattr(self._served, "hold", 0) < self._hold:
                    wait = self._hold_until - now
                    self._served.hold = self._hold
                elif limits.max_concurrency is not None and self._in_flight >= limits.max_concurrency:
                    self._cond.wait(_WAKE_SECONDS)
                    continue
                else:
                    self._trim(now)
                    if limits.calls_per_window is None or self._in_flight + len(self._finished) < limits.calls_per_window:
                        self._in_flight += 1
                        self._served.started = now
                        return
                    if not self._finished:  # the window is full of calls still running
                        self._cond.wait(_WAKE_SECONDS)
                        continue
                    wait = self._finished[0] + limits.window_seconds - now
            sleep(wait)

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            finish = self.clock()
            started = getattr(self._served, "started", finish)
            bisect.insort(self._finished, min(finish, started + self.limits.arrival_margin))
            self._cond.notify_all()

    def hold_off(self, seconds: float) -> None:
        """After a 606 (someone else spent the instance's budget): every other thread using this
        limiter waits ``seconds`` before its next call; the calling thread sleeps them itself."""
        with self._cond:
            self._hold_until = max(self._hold_until, self.clock() + seconds)
            self._hold += 1
            self._served.hold = self._hold

    def rest_of_window(self, minimum: float = 1.0) -> float:
        """After a 606: until the oldest of our calls has left the window — the whole window when
        we have none in it (other integrations spent the shared budget)."""
        with self._cond:
            now = self.clock()
            self._trim(now)
            if not self._finished:
                return self.limits.window_seconds
            return max(minimum, self._finished[0] + self.limits.window_seconds - now)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def calls_in_window(self) -> int:
        """Calls running or finished within the last window."""
        with self._cond:
            self._trim(self.clock())
            return self._in_flight + len(self._finished)

    def _trim(self, now: float) -> None:
        expired = bisect.bisect_right(self._finished, now - self.limits.window_seconds)
        if expired:
            del self._finished[:expired]


class LimiterRegistry:
    """One limiter per (REST endpoint, client_id) in the process.

    Unlike the token cache (``tokens.py``), this key leaves the secret and the plugin
    configuration out on purpose: Marketo counts calls per instance, so every configuration
    calling one instance must share one window whatever its credentials. A limiter holds only
    call times (no credential, token or data), so sharing it shows one tenant nothing of
    another; and a caller with a wrong secret never gets a token, so never takes a slot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limiters: dict[tuple[str, str], RateLimiter] = {}

    def get(self, rest_endpoint: str, client_id: str, limits: RateLimits = RateLimits(),
            clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        """The shared limiter, with ``limits`` applied. A client on another clock (a test's fake
        clock) gets a limiter of its own, since calls timed on two clocks cannot share a window."""
        key = (rest_endpoint.rstrip("/"), client_id)
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None or limiter.clock is not clock:
                limiter = self._limiters[key] = RateLimiter(limits, clock)
                return limiter
        if limiter.limits != limits:
            limiter.configure(limits)
        return limiter

    def clear(self) -> None:
        with self._lock:
            self._limiters.clear()


RATE_LIMITERS = LimiterRegistry()


def shared_limiter(rest_endpoint: str, client_id: str, limits: RateLimits = RateLimits(),
                   clock: Callable[[], float] = time.monotonic) -> RateLimiter:
    return RATE_LIMITERS.get(rest_endpoint, client_id, limits, clock)
