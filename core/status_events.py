"""Status changes: every committed change of a registration's status writes an event and an
outbox row in the same transaction (ARCHITECTURE §4), shaped as ``specs/certain.md`` §5.4.

Events are appends, so a batch of them is written with two multi-row INSERTs."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from . import outbox
from .envelopes import (  # noqa: F401  (also this module's names for them)
    AGENDA_ITEM_STATUS_CHANGED, REGISTRATION_STATUS_CHANGED, SESSION_STATUS_CHANGED, STATUS_EVENT_TYPES, check_payload,
)
from .models import Event, Outbox, Profile, Registration, StatusChangeEvent, utcnow

EVENT_TYPES = STATUS_EVENT_TYPES


@dataclass(frozen=True)
class StatusChange:
    registration: Registration  # or any object with its id, registration_code, attendee_type_code, version
    profile: Profile            # or any object with its pin, external_key, email
    previous: tuple[str, str | None] | None  # (status, classification); None when it is new
    current: tuple[str, str | None]
    tags: tuple[str, ...] = ()
    type: str = REGISTRATION_STATUS_CHANGED
    subject: dict[str, Any] | None = None  # the session or agenda item, for their status changes
    event_id: str | None = None             # the event's id (default: a new one)
    occurred_at: datetime | None = None
    actor: dict[str, Any] | None = None     # who made it, when not the batch's ``actor``


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def write_registration_changes(session: Session, *, account_code: str, event: Event, changes: list[StatusChange],
                               actor: dict[str, Any] | None = None) -> list[str]:
    """Record the changes (registrations already flushed); returns the event ids."""
    events, messages = [], []
    for change in changes:
        payload = _payload(account_code, event, change, change.actor or actor or {"type": "api", "id": None})
        reg, at = change.registration, payload.pop("_at")
        check_payload(change.type, payload)  # the schema the dispatcher reads it with
        events.append({"id": payload["id"], "type": change.type, "account_id": event.account_id,
                       "event_id": event.id, "registration_id": reg.id, "registration_version": reg.version,
                       "occurred_at": at, "payload": payload})
        messages.append({"message_id": payload["id"], "exchange": outbox.EVENTS, "routing_key": change.type,
                         "type": change.type, "payload": payload, "created_at": at, "attempts": 0})
    if events:  # Core INSERTs of the tables: the ORM's bulk path would build each row again
        session.execute(_INSERT_EVENTS, events)
        session.execute(_INSERT_MESSAGES, messages)
    return [e["id"] for e in events]


_INSERT_EVENTS, _INSERT_MESSAGES = insert(StatusChangeEvent.__table__), insert(Outbox.__table__)


def _payload(account_code: str, event: Event, change: StatusChange, actor: dict[str, Any]) -> dict[str, Any]:
    reg, profile, occurred = change.registration, change.profile, change.occurred_at or utcnow()
    return {
        "id": change.event_id or new_event_id(),
        "type": change.type,
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "account_code": account_code,
        "event_code": event.event_code,
        "registration_code": reg.registration_code,
        "profile": {"pin": profile.pin, "external_key": profile.external_key, "email": profile.email},
        "attendee_type_code": reg.attendee_type_code,
        "subject": change.subject,
        "previous": {"status": change.previous[0], "classification": change.previous[1]} if change.previous else None,
        "current": {"status": change.current[0], "classification": change.current[1]},
        "tags": list(change.tags),
        "actor": actor,
        "registration_version": reg.version,
        "_at": occurred,
    }
