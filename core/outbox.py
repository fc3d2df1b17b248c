"""Writing and reading the transactional outbox. Rows are written in the caller's transaction."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from . import envelopes
from .envelopes import RUN_REQUESTED
from .models import Outbox, utcnow

COMMANDS = "commands"
EVENTS = "events"


def new_message_id(prefix: str = "msg") -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def add(session: Session, *, exchange: str, routing_key: str, type: str, payload: dict[str, Any],
        message_id: str | None = None) -> Outbox:
    """A row to publish; its payload is checked against its type's schema (``envelopes``) so
    that nothing a consumer would reject as malformed is ever written."""
    envelopes.check_payload(type, payload)
    row = Outbox(message_id=message_id or new_message_id(), exchange=exchange, routing_key=routing_key,
                 type=type, payload=payload)
    session.add(row)
    return row


def add_run_requested(session: Session, run_id: int, attempt: int = 0) -> Outbox:
    """Ask a worker to execute a run. The id names the (run, attempt), so a re-send is a duplicate."""
    return add(session, exchange=COMMANDS, routing_key="runs", type=RUN_REQUESTED,
               payload={"run_id": run_id, "attempt": attempt}, message_id=f"run_{run_id}_{attempt}")


def forget_runs(session: Session, run_ids: list[int]) -> None:
    """Drop the run commands of runs being deleted (all sent: a run with a command still to go is
    queued, and a queued run's job cannot be deleted). SQLite hands a deleted run's id to the next
    new run, whose command would otherwise collide with the old one's message id."""
    for start in range(0, len(run_ids), 200):  # a few statements, each within SQLite's expression depth
        session.execute(delete(Outbox).where(Outbox.exchange == COMMANDS, or_(*(
            Outbox.message_id.like(f"run\\_{run_id}\\_%", escape="\\") for run_id in run_ids[start:start + 200]))))


def envelope(row: Outbox) -> dict[str, Any]:
    """The bus envelope ``{id, type, version, occurred_at, payload}`` (ARCHITECTURE §5)."""
    occurred_at = row.created_at.isoformat().replace("+00:00", "Z")
    return envelopes.Envelope(row.message_id, row.type, occurred_at, row.payload).as_dict()


def pending(session: Session, limit: int = 100, lock: bool = False) -> list[Outbox]:
    stmt = select(Outbox).where(Outbox.sent_at.is_(None)).order_by(Outbox.id).limit(limit)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def mark_sent(session: Session, ids: list[int], at: datetime | None = None) -> None:
    if ids:
        session.execute(update(Outbox).where(Outbox.id.in_(ids)).values(sent_at=at or utcnow()))
