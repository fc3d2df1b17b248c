"""Status changes: every committed change of a registration's status writes an event and an
outbox row in the same transaction (ARCHITECTURE §4), shaped as ``specs/certain.md`` §5.4.

Events are appends, so a batch of them is written with two multi-row INSERTs."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from . import outbox
from .models import Event, Outbox, Profile, Registration, StatusChangeEvent, utcnow

REGISTRATION_STATUS_CHANGED = "registration.status_changed"


@dataclass(frozen=True)
class StatusChange:
    registration: Registration
    profile: Profile
    previous: tuple[str, str] | None  # (label, classification); None when the registration is new
    current: tuple[str, str]
    tags: tuple[str, ...] = ()


def write_registration_changes(session: Session, *, account_code: str, event: Event, changes: list[StatusChange],
                               actor: dict[str, Any] | None = None) -> list[str]:
    """Record the changes (registrations already flushed); returns the event ids."""
    events, messages = [], []
    for change in changes:
        payload = _payload(account_code, event, change, actor or {"type": "api", "id": None})
        reg = change.registration
        events.append({"id": payload["id"], "type": REGISTRATION_STATUS_CHANGED, "account_id": event.account_id,
                       "event_id": event.id, "registration_id": reg.id, "registration_version": reg.version,
                       "occurred_at": payload["_at"], "payload": _public(payload)})
        messages.append({"message_id": payload["id"], "exchange": outbox.EVENTS, "routing_key": REGISTRATION_STATUS_CHANGED,
                         "type": REGISTRATION_STATUS_CHANGED, "payload": _public(payload), "created_at": payload["_at"],
                         "attempts": 0})
    if events:
        session.execute(insert(StatusChangeEvent), events)
        session.execute(insert(Outbox), messages)
    return [e["id"] for e in events]


def _payload(account_code: str, event: Event, change: StatusChange, actor: dict[str, Any]) -> dict[str, Any]:
    reg, profile, occurred = change.registration, change.profile, utcnow()
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": REGISTRATION_STATUS_CHANGED,
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "account_code": account_code,
        "event_code": event.event_code,
        "registration_code": reg.registration_code,
        "profile": {"pin": profile.pin, "external_key": profile.external_key, "email": profile.email},
        "attendee_type_code": reg.attendee_type_code,
        "subject": None,
        "previous": {"status": change.previous[0], "classification": change.previous[1]} if change.previous else None,
        "current": {"status": change.current[0], "classification": change.current[1]},
        "tags": list(change.tags),
        "actor": actor,
        "registration_version": reg.version,
        "_at": occurred,
    }


def _public(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("_")}
