"""Helpers the Eloqua tests share: a hand-moved clock and journal filters by host."""
from __future__ import annotations


class FakeClock:
    """A monotonic clock that moves only when ``sleep`` is called (or ``advance``)."""

    def __init__(self, start: float = 1_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pod_calls(sandbox, method=None, path=None, **criteria):
    """Journal entries served by a pod (REST and Bulk)."""
    return sandbox.journal.filter(method, path, where=lambda e: e.host != "login", **criteria)


def login_calls(sandbox, method=None, path=None):
    return sandbox.journal.filter(method, path, where=lambda e: e.host == "login")
