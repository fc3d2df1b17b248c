"""Scripted and random faults for plugin sandboxes: the queue and the draw every emulator needs,
whatever its faults are (exported by ``connectors.sandbox``).

A plugin keeps its own ``Fault`` type — what its target answers instead of the real thing — and
decides what a fault without a path applies to (``default``: e.g. every call but bookkeeping
ones). ``FaultQueue`` holds faults for the next calls, in order, each waiting for a call to its
host (a sandbox serving several hosts names them; one host: ``None``) whose path it matches;
``RandomFaults`` fails each call with a seeded probability, so a run is repeatable.
"""
from __future__ import annotations

import random
import re
import threading
from typing import Callable, Generic, Sequence, TypeVar

F = TypeVar("F")


def _every_path(path: str) -> bool:
    return True


class _Paths:
    """Compiles path patterns one way and answers whether a pattern (or its absence) applies."""

    def __init__(self, ignore_case: bool, default: Callable[[str], bool]):
        self._flags, self._default = re.IGNORECASE if ignore_case else 0, default

    def compile(self, path: str | None) -> re.Pattern[str] | None:
        return re.compile(path, self._flags) if path is not None else None

    def applies(self, pattern: re.Pattern[str] | None, path: str) -> bool:
        return self._default(path) if pattern is None else pattern.fullmatch(path) is not None


class FaultQueue(Generic[F]):
    """Faults for the next calls, in order; each waits for a call to its host and path.

    ``ignore_case``: path patterns match regardless of case; ``default``: which paths a fault
    added without one applies to (all of them unless told)."""

    def __init__(self, *, ignore_case: bool = False, default: Callable[[str], bool] = _every_path) -> None:
        self._lock = threading.Lock()
        self._paths = _Paths(ignore_case, default)
        self._faults: list[tuple[str | None, re.Pattern[str] | None, F]] = []

    def add(self, fault: F, times: int = 1, path: str | None = None, host: str | None = None) -> None:
        pattern = self._paths.compile(path)
        with self._lock:
            self._faults.extend([(host, pattern, fault)] * times)

    def take(self, path: str = "/", host: str | None = None) -> F | None:
        """The first fault waiting for this call, removed from the queue; None: serve it normally."""
        with self._lock:
            for index, (where, pattern, fault) in enumerate(self._faults):
                if where == host and self._paths.applies(pattern, path):
                    del self._faults[index]
                    return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class RandomFaults(Generic[F]):
    """Each call fails with probability ``p``, with one of ``faults`` (seeded, so repeatable)."""

    def __init__(self, *, ignore_case: bool = False, default: Callable[[str], bool] = _every_path) -> None:
        self._lock = threading.Lock()
        self._paths = _Paths(ignore_case, default)
        self.p = 0.0
        self._faults: Sequence[F] = ()
        self._rng = random.Random(0)
        self._pattern: re.Pattern[str] | None = None
        self.drawn = 0  # how many calls it failed

    def configure(self, p: float, faults: Sequence[F], seed: int = 0, path: str | None = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError("p is a probability")
        if p and not faults:
            raise ValueError("give the faults to draw from")
        with self._lock:
            self.p, self._faults, self._rng, self.drawn = p, tuple(faults), random.Random(seed), 0
            self._pattern = self._paths.compile(path)

    def draw(self, path: str) -> F | None:
        with self._lock:
            if not self.p or not self._paths.applies(self._pattern, path) or self._rng.random() >= self.p:
                return None
            self.drawn += 1
            return self._rng.choice(self._faults)
