"""Reading a ``plugin.task.requested`` command (a "Test connection" or field discovery asked
for on the plugins page). It travels the runs queue beside ``run.requested``: same exchange,
same limits, no new queue to declare."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.plugin_tasks import PLUGIN_TASK_REQUESTED

from .messages import ENVELOPE_VERSION, MalformedMessage


@dataclass(frozen=True)
class PluginTaskRequested:
    message_id: str
    task_id: int


def is_plugin_task(body: Any) -> bool:
    return isinstance(body, dict) and body.get("type") == PLUGIN_TASK_REQUESTED


def parse_plugin_task(body: dict[str, Any]) -> PluginTaskRequested:
    """The command in a decoded body; raises ``MalformedMessage`` naming what is wrong."""
    if body.get("version") != ENVELOPE_VERSION:
        raise MalformedMessage(f"unsupported envelope version {body.get('version')!r}")
    payload = body.get("payload")
    task_id = payload.get("task_id") if isinstance(payload, dict) else None
    if isinstance(task_id, bool) or not isinstance(task_id, int) or task_id < 1:
        raise MalformedMessage(f"payload.task_id must be an integer >= 1, not {task_id!r}")
    return PluginTaskRequested(message_id=str(body.get("id")), task_id=task_id)
