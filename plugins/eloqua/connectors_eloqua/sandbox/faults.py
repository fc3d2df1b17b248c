"""Scripted and random failures (spec §7.4): what a host answers instead of the real thing.

A ``Fault`` is an HTTP status with Eloqua's text (429 without Retry-After, 503 "There was a
timeout processing the request", 502, 500, 401), a reset connection, a hang past the client's
timeout, or ``/id``'s "Not authenticated.". With ``after_effect`` the request is carried out
first and only its answer is lost: the case where a client must not blindly send a create
again. Faults wait in a ``FaultQueue`` for the next calls to a host (optionally only calls
whose path matches a regex, optionally after N calls pass), or are drawn by ``RandomFaults``
with a seeded probability.
"""
from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Sequence

LOGIN, POD = "login", "pod"


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    text: str | None = None
    retry_after: str | None = None
    drop: bool = False
    hang: float | None = None
    after_effect: bool = False
    not_authenticated: bool = False
    pass_through: bool = False  # a placeholder: this call is served normally

    @property
    def label(self) -> str:
        if self.drop:
            return "reset"
        if self.hang is not None:
            return "hang"
        if self.not_authenticated:
            return "not-authenticated"
        return str(self.status)


PASS = Fault(pass_through=True)


class FaultQueue:
    """Faults for the next calls, in order; each waits for a call to its host and path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[str, re.Pattern[str] | None, Fault]] = []

    def add(self, fault: Fault, times: int = 1, path: str | None = None, host: str = POD) -> None:
        pattern = re.compile(path, re.IGNORECASE) if path is not None else None
        with self._lock:
            self._faults.extend([(host, pattern, fault)] * times)

    def take(self, host: str, path: str) -> Fault | None:
        with self._lock:
            for index, (where, pattern, fault) in enumerate(self._faults):
                if where == host and (pattern is None or pattern.fullmatch(path)):
                    del self._faults[index]
                    return None if fault.pass_through else fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class RandomFaults:
    """Each call to the pods fails with probability ``p`` with one of ``faults`` (seeded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.p = 0.0
        self._faults: Sequence[Fault] = ()
        self._rng = random.Random(0)
        self._pattern: re.Pattern[str] | None = None
        self.drawn = 0

    def configure(self, p: float, faults: Sequence[Fault], seed: int = 0, path: str | None = None) -> None:
        if not 0 <= p <= 1:
            raise ValueError("p is a probability")
        if p and not faults:
            raise ValueError("give the faults to draw from")
        with self._lock:
            self.p, self._faults, self._rng, self.drawn = p, tuple(faults), random.Random(seed), 0
            self._pattern = re.compile(path, re.IGNORECASE) if path is not None else None

    def draw(self, path: str) -> Fault | None:
        with self._lock:
            if not self.p or (self._pattern is not None and not self._pattern.fullmatch(path)):
                return None
            if self._rng.random() >= self.p:
                return None
            self.drawn += 1
            return self._rng.choice(self._faults)
