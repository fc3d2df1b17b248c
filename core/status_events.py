"""Status changes: every committed change of a registration's status writes an event and an
outbox row in the same transaction (ARCHITECTURE §4), shaped as ``specs/certain.md`` §5.4."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from . import outbox
from .models import Event, Profile, Registration, StatusChangeEvent, utcnow

REGISTRATION_STATUS_CHANGED = "registration.status_changed"


def registration_status_changed(
    session: Session, *, account_code: str, event: Event, registration: Registration, profile: Profile,
    previous: tuple[str, str] | None, current: tuple[str, str], tags: list[str] | None = None,
    actor: dict[str, Any] | None = None,
) -> StatusChangeEvent:
    """Record one change; ``previous``/``current`` are (label, classification), previous None on create."""
    event_id = f"evt_{uuid.uuid4().hex}"
    occurred = utcnow()
    payload = {
        "id": event_id,
        "type": REGISTRATION_STATUS_CHANGED,
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "account_code": account_code,
        "event_code": event.event_code,
        "registration_code": registration.registration_code,
        "profile": {"pin": profile.pin, "external_key": profile.external_key, "email": profile.email},
        "attendee_type_code": registration.attendee_type_code,
        "subject": None,
        "previous": {"status": previous[0], "classification": previous[1]} if previous else None,
        "current": {"status": current[0], "classification": current[1]},
        "tags": tags or [],
        "actor": actor or {"type": "api", "id": None},
        "registration_version": registration.version,
    }
    row = StatusChangeEvent(id=event_id, type=REGISTRATION_STATUS_CHANGED, account_id=event.account_id,
                            event_id=event.id, registration_id=registration.id,
                            registration_version=registration.version, occurred_at=occurred, payload=payload)
    session.add(row)
    outbox.add(session, exchange=outbox.EVENTS, routing_key=REGISTRATION_STATUS_CHANGED,
               type=REGISTRATION_STATUS_CHANGED, payload=payload, message_id=event_id)
    return row
