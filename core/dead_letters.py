"""Dead letters: the messages the bus gave up on, kept in the database for an operator.

The collector (``connectors.bus.dead_letters``) drains the broker's dead-letter queue into the
``dead_letters`` table through ``record``; the admin's "Dead letters" page, ``connectors
dead-letters`` and ``/metrics`` read it here. ``replay`` sends the original message again the way
every message leaves: an outbox row in the caller's transaction, published by the relay. The
functions flush but never commit: the caller owns the transaction.

Which account a dead letter belongs to is worked out once, when it is recorded, from its payload
(a run command's run → job → account; a status-change event's row → account). Administrators see
only their own account's; the rest (unreadable bodies, ids that resolve to nothing) only the CLI.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import outbox
from .envelopes import PLUGIN_TASK_REQUESTED
from .models import DeadLetter, Job, JobRun, Outbox, PluginConfig, PluginTask, StatusChangeEvent, utcnow

log = logging.getLogger(__name__)

#: a body longer than this (in characters) is kept truncated, with a note: a dead letter is read
#: by a human, and one huge message must not bloat the table
BODY_LIMIT = 64 * 1024
#: what ``account_id=`` takes to mean "whatever account, or none" (the CLI's view)
ANY_ACCOUNT = object()
REPLAYABLE_EXCHANGES = (outbox.COMMANDS, outbox.EVENTS)
OUTBOX_ID_LENGTH = 40


class DeadLetterError(ValueError):
    """What an operator asked cannot be done to this dead letter; the message says why."""


@dataclass(frozen=True)
class Page:
    items: list[DeadLetter]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# -- recording -------------------------------------------------------------------------------------
def record(session: Session, *, body: bytes | str, reason: str, queue: str | None, died_at: datetime | None,
           message_id: str | None = None, message_type: str | None = None, exchange: str | None = None,
           routing_key: str | None = None, headers: dict[str, Any] | None = None) -> tuple[DeadLetter, bool]:
    """Keep one dead letter; returns it and whether it is new.

    Idempotent by (message id, or the body when there is none) and ``died_at``: the collector
    acks after the commit, so a crash between the two delivers the same dead letter again.
    ``died_at`` None (nothing said when it died) counts the message id alone and records now.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    envelope = _envelope(text)
    if envelope is not None:  # a message published without properties still names itself in its envelope
        message_id = message_id or _text_or_none(envelope.get("id"))
        message_type = message_type or _text_or_none(envelope.get("type"))
    fingerprint = _fingerprint(message_id or text, died_at)
    existing = session.scalar(select(DeadLetter).where(DeadLetter.fingerprint == fingerprint))
    if existing is not None:
        return existing, False
    kept, truncated = _capped(text)
    letter = DeadLetter(
        fingerprint=fingerprint, message_id=_cut(message_id, 200), message_type=_cut(message_type, 200),
        exchange=_cut(exchange, 255), routing_key=_cut(routing_key, 255), queue=_cut(queue, 255),
        reason=reason or "unknown", body=kept, body_truncated=truncated, headers=json_safe(headers or {}),
        died_at=died_at or utcnow(), recorded_at=utcnow(), status="open")
    letter.account_id = _account_of(session, envelope)
    session.add(letter)
    session.flush()
    # The everyday-work notification (a later issue) hooks in here; until then, a log line.
    log.warning("dead letter %s recorded: %s message %s from queue %s (%s)", letter.id, message_type or "untyped",
                message_id or "without id", queue or "?", letter.reason)
    return letter, True


def _fingerprint(identity: str, died_at: datetime | None) -> str:
    stamp = died_at.isoformat() if died_at is not None else ""
    return hashlib.sha256(f"{identity}\x00{stamp}".encode("utf-8", errors="replace")).hexdigest()


def _capped(text: str) -> tuple[str, bool]:
    if len(text) <= BODY_LIMIT:
        return text, False
    return text[:BODY_LIMIT] + f"\n… [truncated: the body had {len(text)} characters; only the first " \
                              f"{BODY_LIMIT} are kept]", True


def _text_or_none(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else str(value)[:length]


def json_safe(value: Any) -> Any:
    """AMQP headers as JSON: timestamps as ISO text, bytes as text, anything odd as its repr."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _envelope(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _account_of(session: Session, envelope: dict[str, Any] | None) -> int | None:
    """The account the message is about, when its payload says so; None when it cannot tell."""
    if envelope is None:
        return None
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    if envelope.get("type") == outbox.RUN_REQUESTED:
        run_id = _row_id(payload.get("run_id"))
        return None if run_id is None else session.scalar(
            select(Job.account_id).join(JobRun, JobRun.job_id == Job.id).where(JobRun.id == run_id))
    if envelope.get("type") == PLUGIN_TASK_REQUESTED:
        task_id = _row_id(payload.get("task_id"))
        return None if task_id is None else session.scalar(
            select(PluginConfig.account_id).join(PluginTask, PluginTask.plugin_config_id == PluginConfig.id)
            .where(PluginTask.id == task_id))
    event_id = envelope.get("id")  # a status-change event's message id is the event's id
    if not isinstance(event_id, str) or len(event_id) > OUTBOX_ID_LENGTH:
        return None
    return session.scalar(select(StatusChangeEvent.account_id).where(StatusChangeEvent.id == event_id))


#: what the broker's own reasons (``x-death``) mean, in the words of the page
BROKER_REASONS = {
    "delivery_limit": "delivered as often as the queue allows (5 times) without being settled: it kept failing "
                      "or stopping the process that took it",
    "rejected": "rejected by the process that took it, as a message it cannot act on",
    "expired": "expired before a consumer took it",
    "maxlen": "dropped by the queue's length limit",
}


def explain(reason: str | None) -> str | None:
    """The broker's reason code in words (our own reasons already are words)."""
    return BROKER_REASONS.get((reason or "").strip())


def run_of(session: Session, letter: DeadLetter) -> tuple[int, int] | None:
    """``(job id, run id)`` of a dead run command whose run still exists, for a link to it."""
    envelope = _envelope(letter.body or "")
    if envelope is None or envelope.get("type") != outbox.RUN_REQUESTED:
        return None
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    run_id = _row_id(payload.get("run_id"))
    job_id = None if run_id is None else session.scalar(select(JobRun.job_id).where(JobRun.id == run_id))
    return None if job_id is None else (job_id, run_id)


def _row_id(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31
    return value if ok else None


# -- reading ---------------------------------------------------------------------------------------
def list_dead_letters(session: Session, *, status: str | None = "open", queue: str | None = None,
                      account_id: Any = ANY_ACCOUNT, page: int = 1, per_page: int = 50) -> Page:
    """Newest first. ``status`` None: every status; ``account_id``: only that account's."""
    stmt = select(DeadLetter)
    if status is not None:
        stmt = stmt.where(DeadLetter.status == status)
    if queue:
        stmt = stmt.where(DeadLetter.queue == queue)
    if account_id is not ANY_ACCOUNT:
        stmt = stmt.where(DeadLetter.account_id == account_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page, per_page = max(page, 1), min(max(per_page, 1), 500)
    items = list(session.scalars(stmt.order_by(DeadLetter.died_at.desc(), DeadLetter.id.desc())
                                 .offset((page - 1) * per_page).limit(per_page)))
    return Page(items, total, page, per_page)


def get(session: Session, letter_id: int, *, account_id: Any = ANY_ACCOUNT) -> DeadLetter | None:
    letter = session.get(DeadLetter, letter_id)
    if letter is None or (account_id is not ANY_ACCOUNT and letter.account_id != account_id):
        return None
    return letter


def queues(session: Session) -> list[str]:
    """The queues dead letters came from (for a filter's choices)."""
    return [q for q in session.scalars(select(DeadLetter.queue).distinct().order_by(DeadLetter.queue)) if q]


def count_open(session: Session) -> dict[str, int]:
    """Open dead letters by original queue ("" when unknown): what ``/metrics`` exposes."""
    rows = session.execute(select(DeadLetter.queue, func.count()).where(DeadLetter.status == "open")
                           .group_by(DeadLetter.queue))
    return {queue or "": count for queue, count in rows}


def pretty_body(letter: DeadLetter) -> str:
    """The body indented when it is JSON, as stored otherwise."""
    envelope = None if letter.body_truncated else _envelope(letter.body)
    return json.dumps(envelope, indent=2, ensure_ascii=False, sort_keys=True) if envelope is not None else letter.body


# -- acting ----------------------------------------------------------------------------------------
def replay(session: Session, letter: DeadLetter, handled_by: str) -> Outbox:
    """Send the original message again to its original exchange and routing key, through the
    outbox, and mark the dead letter replayed.

    The message keeps its id, because consumers deduplicate by it (a status event's id is the
    delivery ledger's key). The outbox usually still holds the row that first carried it (sent):
    that row is replaced by the new one, which the relay publishes.
    """
    _require_open(letter)
    envelope = None if letter.body_truncated else _envelope(letter.body)
    if envelope is None or not isinstance(envelope.get("payload"), dict) or not envelope.get("type"):
        raise DeadLetterError("its body is not a readable message envelope (id, type, payload): nothing to replay")
    exchange = logical_exchange(letter.exchange)
    if exchange is None:
        raise DeadLetterError(f"its original exchange {letter.exchange!r} is not one the relay publishes to")
    message_id = str(envelope.get("id") or letter.message_id or outbox.new_message_id())
    if len(message_id) > OUTBOX_ID_LENGTH:
        raise DeadLetterError(f"its message id is longer than {OUTBOX_ID_LENGTH} characters: not one of ours")
    old = session.scalar(select(Outbox).where(Outbox.message_id == message_id))
    if old is not None:  # the row that first carried it: replaced, so the one write path checks the payload
        session.delete(old)
        session.flush()
    try:
        row = outbox.add(session, exchange=exchange, routing_key=letter.routing_key or "",
                         type=str(envelope["type"])[:64], payload=envelope["payload"], message_id=message_id)
    except ValueError as exc:  # the outbox refuses what a consumer would reject again
        raise DeadLetterError(f"it would be rejected again: {exc}") from None
    _settle(letter, "replayed", handled_by)
    session.flush()
    return row


def drop(session: Session, letter: DeadLetter, handled_by: str) -> None:
    """Mark it dropped: kept for the audit, hidden from the default (open) list."""
    _require_open(letter)
    _settle(letter, "dropped", handled_by)
    session.flush()


def logical_exchange(exchange: str | None) -> str | None:
    """``connectors.commands`` → ``commands``: the name an outbox row uses; None for any other."""
    name = (exchange or "").rsplit(".", 1)[-1]
    return name if name in REPLAYABLE_EXCHANGES else None


def _require_open(letter: DeadLetter) -> None:
    if letter.status != "open":
        raise DeadLetterError(f"it is already {letter.status}")


def _settle(letter: DeadLetter, status: str, handled_by: str) -> None:
    now = utcnow()
    letter.status, letter.handled_by = status, str(handled_by)[:64]
    if status == "replayed":
        letter.replayed_at = now
    else:
        letter.dropped_at = now
