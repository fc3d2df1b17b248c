"""Scripted and random failures: what the sandbox answers instead of the real thing.

A ``Fault`` is a Marketo error code in the envelope, an HTTP status with a gateway's HTML page,
a dropped connection, a truncated body, or a hang. Faults wait in a ``FaultQueue`` for the next
calls (optionally only calls to paths matching a regex), or are drawn by ``RandomFaults`` with a
seeded probability — the core's (``connectors.sandbox``), with Marketo's fault kinds.
Bookkeeping calls (``/rest/v1/stats/...``) are left alone unless a fault names their path, so a
client's budget checks do not shift the calls a test scripted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from connectors import sandbox

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


def not_bookkeeping(path: str) -> bool:
    """What a fault without a path applies to: every call but the usage stats."""
    return not STATS_PATH.fullmatch(path)


class FaultQueue(sandbox.FaultQueue[Fault]):
    """The core's queue with Marketo's rule: a fault without a path leaves bookkeeping calls alone."""

    def __init__(self) -> None:
        super().__init__(default=not_bookkeeping)


class RandomFaults(sandbox.RandomFaults[Fault]):
    """The core's seeded draw, leaving bookkeeping calls alone unless a path names them."""

    def __init__(self) -> None:
        super().__init__(default=not_bookkeeping)
