"""Scripted and random failures (spec §7.4): what a host answers instead of the real thing.

A ``Fault`` is an HTTP status with Eloqua's text (429 without Retry-After, 503 "There was a
timeout processing the request", 502, 500, 401), a reset connection, a hang past the client's
timeout, or ``/id``'s "Not authenticated.". With ``after_effect`` the request is carried out
first and only its answer is lost: the case where a client must not blindly send a create
again. Faults wait in a ``FaultQueue`` for the next calls to a host (optionally only calls
whose path matches a regex, optionally after N calls pass), or are drawn by ``RandomFaults``
with a seeded probability — the core's (``connectors.sandbox``), with Eloqua's fault kinds.
"""
from __future__ import annotations

from dataclasses import dataclass

from connectors import sandbox

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


class FaultQueue(sandbox.FaultQueue[Fault]):
    """The core's queue with Eloqua's path rule: patterns match regardless of case (Eloqua's
    paths do). Each fault names its host: ``LOGIN`` or ``POD``; ``PASS`` lets a call through."""

    def __init__(self) -> None:
        super().__init__(ignore_case=True)


class RandomFaults(sandbox.RandomFaults[Fault]):
    """Drawn for calls to the pods (``hosts.py``), seeded; patterns regardless of case."""

    def __init__(self) -> None:
        super().__init__(ignore_case=True)
