"""Reading the envelope ``{id, type, version, occurred_at, payload}`` of a run command.

Writing it is the core's job (``connectors.outbox.envelope``); a consumer validates what it
got before acting on it, and anything it cannot read is malformed: rejected, never retried.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.outbox import RUN_REQUESTED

ENVELOPE_VERSION = 1


class MalformedMessage(ValueError):
    """A message no retry can fix: wrong shape, type or version."""


@dataclass(frozen=True)
class RunRequested:
    message_id: str
    run_id: int
    attempt: int


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MalformedMessage(f"payload.{name} must be an integer >= {minimum}, not {value!r}")
    return value


def parse_run_requested(body: Any) -> RunRequested:
    """The command in a decoded body; raises ``MalformedMessage`` naming what is wrong."""
    if not isinstance(body, dict):
        raise MalformedMessage(f"envelope must be a JSON object, not {type(body).__name__}")
    missing = [k for k in ("id", "type", "version", "payload") if k not in body]
    if missing:
        raise MalformedMessage(f"envelope lacks {', '.join(missing)}")
    if body["type"] != RUN_REQUESTED:
        raise MalformedMessage(f"unexpected message type {body['type']!r} on the runs queue")
    if body["version"] != ENVELOPE_VERSION:
        raise MalformedMessage(f"unsupported envelope version {body['version']!r}")
    payload = body["payload"]
    if not isinstance(payload, dict):
        raise MalformedMessage("payload must be a JSON object")
    return RunRequested(message_id=str(body["id"]), run_id=_int(payload.get("run_id"), "run_id", 1),
                        attempt=_int(payload.get("attempt"), "attempt", 0))
