"""The commands of the runs queue, read with the one envelope schema (``connectors.envelopes``).

Writing them is the core's job (the outbox checks each payload against the same schema); a
consumer reads what it got before acting on it, and anything that does not fit is malformed:
dead-lettered alone with the reason, never retried.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from connectors import envelopes
from connectors.envelopes import MalformedMessage

__all__ = ["MalformedMessage", "RunRequested", "PluginTaskRequested", "Command", "parse_command",
           "parse_run_requested", "parse_status_event"]


@dataclass(frozen=True)
class RunRequested:
    message_id: str
    run_id: int
    attempt: int


@dataclass(frozen=True)
class PluginTaskRequested:
    """A "Test connection" or field discovery asked for on the plugins page: it travels the
    runs queue beside ``run.requested`` (same exchange, same limits, no queue of its own)."""

    message_id: str
    task_id: int


Command = Union[RunRequested, PluginTaskRequested]


def parse_command(body: Any) -> Command:
    """The command in a decoded body of the runs queue; ``MalformedMessage`` names what is wrong."""
    envelope = envelopes.read(body, expect=envelopes.COMMAND_TYPES)
    if envelope.type == envelopes.PLUGIN_TASK_REQUESTED:
        return PluginTaskRequested(envelope.id, envelope.payload["task_id"])
    return RunRequested(envelope.id, envelope.payload["run_id"], envelope.payload["attempt"])


def parse_run_requested(body: Any) -> RunRequested:
    """A ``run.requested`` command (and nothing else)."""
    envelope = envelopes.read(body, expect=(envelopes.RUN_REQUESTED,))
    return RunRequested(envelope.id, envelope.payload["run_id"], envelope.payload["attempt"])


def parse_status_event(body: Any) -> str:
    """The id of a status-change event message (what the dispatcher plans by)."""
    return envelopes.read(body, expect=envelopes.STATUS_EVENT_TYPES).id
