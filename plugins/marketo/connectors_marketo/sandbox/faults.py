"""Scripted and random failures: what the sandbox answers instead of the real thing.

A ``Fault`` is a Marketo error code in the envelope, an HTTP status with a gateway's HTML page,
a dropped connection, a truncated body, or a hang. Faults wait in a ``FaultQueue`` for the next
calls (optionally only calls to paths matching a regex), or are drawn by ``RandomFaults`` with a
seeded probability. Bookkeeping calls (``/rest/v1/stats/...``) are left alone unless a fault
names their path, so a client's budget checks do not shift the calls a test scripted.
"""
from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Sequence

STATS_PATH = re.compile(r"/rest/v1/stats/.*")


@dataclass(frozen=True)
class Fault:
    code: str | None = None
    http_status: int | None = None
    message: str | None = None
    drop_connection: bool = False
    truncate: bool = False  # serve the call, then cut the body short
    hang: float | None = None  # answer nothing for up to this many seconds, then drop the connection
    pass_through: bool = False  # a placeholder: this call is served normally


PASS = Fault(pass_through=True)


def applies(pattern: re.Pattern[str] | None, path: str) -> bool:
    if pattern is None:
        return not STATS_PATH.fullmatch(path)
    return pattern.fullmatch(path) is not None


class FaultQueue:
    """Faults for the next calls, in order; each waits for a call whose path it applies to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[re.Pattern[str] | None, Fault]] = []

    def add(self, fault: Fault, times: int = 1, path: str | None = None) -> None:
        pattern = re.compile(path) if path is not None else None
        with self._lock:
            self._faults.extend([(pattern, fault)] * times)

    def take(self, path: str = "/") -> Fault | None:
        with self._lock:
            for index, (pattern, fault) in enumerate(self._faults):
                if applies(pattern, path):
                    del self._faults[index]
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class RandomFaults:
    """Each call fails with probability ``p``, with one of ``faults`` (seeded, so repeatable)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.p = 0.0
        self._faults: Sequence[Fault] = ()
        self._rng = random.Random(0)
        self._pattern: re.Pattern[str] | None = None
        self.drawn = 0  # how many calls it failed

    def configure(self, p: float, faults: Sequence[Fault], seed: int = 0, path: str | None = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError("p is a probability")
        if p and not faults:
            raise ValueError("give the faults to draw from")
        with self._lock:
            self.p, self._faults, self._rng = p, tuple(faults), random.Random(seed)
            self._pattern = re.compile(path) if path is not None else None
            self.drawn = 0

    def draw(self, path: str) -> Fault | None:
        with self._lock:
            if not self.p or not applies(self._pattern, path) or self._rng.random() >= self.p:
                return None
            self.drawn += 1
            return self._rng.choice(self._faults)
