"""Remote calls for the plugins page, run by a worker: "Test connection" (``Application.check``)
and field discovery (``Application.describe_fields``).

A web request never calls the target application: it writes a ``PluginTask`` and its command
in the outbox (one transaction); a worker claims the task (queued -> running, once), makes the
call with the stored connection, and records the outcome. The page polls the task.

A task nobody finished within ``TASK_TIMEOUT`` (no worker running, or one that died mid-call)
is shown as unanswered and may be asked again; it is closed as failed when that happens.
The latest successful discovery is the configuration's cache of remote fields.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from . import audit, outbox
from .db import transaction
from .envelopes import PLUGIN_TASK_REQUESTED
from .connection_keys import ConnectionSettings
from .connection_state import ConnectionState
from .models import TASK_KINDS, PluginConfig, PluginTask, User, utcnow
from .plugin_api import RemoteField, takes_state
from .plugins import PluginManager
from .secrets import SecretBox

log = logging.getLogger(__name__)

TASK_TIMEOUT = timedelta(minutes=2)
ACTIVE = ("queued", "running")
MAX_MESSAGE = 2000
CHECK_OK, CHECK_FAILED = "OK: ", "Failed: "  # how last_test_result starts


def message_id(task_id: int) -> str:
    return f"plugintask_{task_id}"


def latest(session: Session, config_id: int, kind: str, *, succeeded: bool = False) -> PluginTask | None:
    stmt = select(PluginTask).where(PluginTask.plugin_config_id == config_id, PluginTask.kind == kind)
    if succeeded:
        stmt = stmt.where(PluginTask.status == "succeeded")
    return session.scalar(stmt.order_by(PluginTask.id.desc()).limit(1))


def is_stale(task: PluginTask, now: datetime | None = None) -> bool:
    """Queued or running for longer than ``TASK_TIMEOUT``: no worker is going to answer."""
    return task.status in ACTIVE and (now or utcnow()) - task.requested_at > TASK_TIMEOUT


def request(session: Session, config: PluginConfig, kind: str, user: User | None) -> PluginTask:
    """Ask a worker for a check or a discovery, in the caller's transaction. While one of the
    same kind is pending (and not stale) that one is returned: a double click asks once."""
    if kind not in TASK_KINDS:
        raise ValueError(f"kind must be one of {TASK_KINDS}, not {kind!r}")
    pending = latest(session, config.id, kind)
    now = utcnow()
    if pending is not None and pending.status in ACTIVE:
        if not is_stale(pending, now):
            return pending
        pending.status, pending.ended_at, pending.ok = "failed", now, False
        pending.message = "No worker answered in time; asked again."
    task = PluginTask(plugin_config_id=config.id, kind=kind, status="queued", requested_at=now,
                      requested_by_id=user.id if user else None)
    session.add(task)
    session.flush()
    outbox.add(session, exchange=outbox.COMMANDS, routing_key="runs", type=PLUGIN_TASK_REQUESTED,
               payload={"task_id": task.id}, message_id=message_id(task.id))
    audit.record(session, account_id=config.account_id, user=user, action=f"{kind}.requested",
                 target_type="plugin_config", target_id=config.id, target_label=config.name)
    return task


def claim(factory: sessionmaker[Session], task_id: int, worker: str) -> bool:
    """queued -> running, once: a duplicate command finds nothing to claim."""
    with transaction(factory) as s:
        res = s.execute(update(PluginTask).where(PluginTask.id == task_id, PluginTask.status == "queued")
                        .values(status="running", worker=worker, started_at=utcnow()))
        return res.rowcount == 1


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    result: Any = None


def execute(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox, task_id: int) -> Outcome:
    """Make the claimed task's remote call and record it. No transaction is open during the
    call (on SQLite it would hold the write lock for the call's length)."""
    with factory() as s:
        task = s.get(PluginTask, task_id)
        config = s.get(PluginConfig, task.plugin_config_id)
        kind, application, config_id = task.kind, config.application, config.id
        try:
            secrets = box.open(config.secrets)
        except ValueError as exc:  # the secret key changed: the secrets must be entered again
            secrets, unreadable = {}, str(exc)
        else:
            unreadable = None
        connection = ConnectionSettings({**(config.connection or {}), **secrets}, config.id)
    state = ConnectionState(factory, box, config_id)
    outcome = Outcome(False, unreadable) if unreadable else _call(registry, application, kind, connection, state)
    outcome = Outcome(outcome.ok, _redact(outcome.message, secrets), outcome.result)
    now = utcnow()
    with transaction(factory) as s:
        s.execute(update(PluginTask).where(PluginTask.id == task_id, PluginTask.status == "running").values(
            status="succeeded" if outcome.ok else "failed", ended_at=now, ok=outcome.ok,
            message=outcome.message[:MAX_MESSAGE], result=outcome.result))
        if kind == "check":
            s.execute(update(PluginConfig).where(PluginConfig.id == config_id).values(
                last_tested_at=now, last_test_result=(CHECK_OK if outcome.ok else CHECK_FAILED) + outcome.message[:MAX_MESSAGE]))
    return outcome


def _call(registry: PluginManager, application: str, kind: str, connection: dict[str, Any],
          state: ConnectionState) -> Outcome:
    """Call the plugin; one that takes ``state`` gets it, so a credential it rotates is kept."""
    try:
        app = registry.application(application)
    except KeyError:
        return Outcome(False, f"The {application} plugin is not installed on this worker.")
    function = app.check if kind == "check" else app.describe_fields
    if function is None:
        return Outcome(False, f"{app.label} offers no {'connection check' if kind == 'check' else 'field discovery'}.")
    try:
        answer = function(connection, state=state) if takes_state(function) else function(connection)
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is this task's failure, not the worker's
        log.exception("%s of %s failed", kind, application)
        return Outcome(False, f"{app.label} {kind.replace('_', ' ')} failed: {type(exc).__name__}: {exc}")
    if kind == "check":
        return Outcome(bool(answer.ok), str(answer.message))
    found = [{"name": f.name, "label": f.label, "data_type": f.data_type, "read_only": bool(f.read_only)}
             for f in answer]
    return Outcome(True, f"{len(found)} fields found in {app.label}.", found)


def _redact(message: str, secrets: dict[str, Any]) -> str:
    """A plugin's message must not carry a secret to the page."""
    for value in secrets.values():
        if isinstance(value, str) and len(value) >= 4:
            message = message.replace(value, "••••")
    return message


def discovered_fields(session: Session, config_id: int) -> tuple[dict[str, RemoteField], datetime] | None:
    """The cached remote fields (``{name: RemoteField}``) and when they were found, or None."""
    task = latest(session, config_id, "describe_fields", succeeded=True)
    if task is None or not isinstance(task.result, list):
        return None
    fields = {f["name"]: RemoteField(f["name"], f.get("label") or f["name"], f.get("data_type") or "string",
                                     bool(f.get("read_only"))) for f in task.result if f.get("name")}
    return fields, task.ended_at


def last_test(config: PluginConfig) -> tuple[bool, str] | None:
    """(passed, message) of the configuration's last connection test, or None if never tested."""
    text = config.last_test_result
    if config.last_tested_at is None or not text:
        return None
    ok = text.startswith(CHECK_OK)
    return ok, text[len(CHECK_OK if ok else CHECK_FAILED):] if text.startswith((CHECK_OK, CHECK_FAILED)) else text


def view(task: PluginTask | None, now: datetime | None = None) -> dict[str, Any] | None:
    """What the page and its JSON show about a task."""
    if task is None:
        return None
    stale = is_stale(task, now)
    return {"id": task.id, "kind": task.kind, "status": "unanswered" if stale else task.status,
            "active": task.status in ACTIVE and not stale, "ok": task.ok,
            "message": "No worker answered within two minutes; is a worker running? Ask again." if stale else task.message,
            "requested_at": task.requested_at, "ended_at": task.ended_at}
