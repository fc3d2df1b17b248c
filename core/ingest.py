"""Status changes sent by the event platform (``POST /api/v1/status-changes``).

Each event is validated on its own: the valid ones are applied to the store (the registration's,
session's or agenda item's status) and recorded — with the sender's id, which makes a resent
event a harmless duplicate — and each rejected one is named with its reasons. Applying and
recording go through ``status_changes.change_status``, the writer the admin uses too, so
event-triggered jobs see no difference; an event that changes nothing is ``unchanged``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import status_events
from .errors import flatten_messages
from .models import Account, Event, Registration, StatusChangeEvent
from .status_changes import StatusChangeRejected, change_status
from .status_events import EVENT_TYPES

MAX_EVENTS = 500
#: The shared writer's field names, as this endpoint's events name them.
_FIELDS = {"status": "current"}


class _Status(Schema):
    status = fields.String(required=True, validate=validate.Length(min=1, max=100))
    classification = fields.String(load_default=None, allow_none=True)


class _Subject(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("session", "session_instance", "agenda_item")))
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))


class IngestEventSchema(Schema):
    """One status change, shaped as ``specs/certain.md`` §5.4 (unknown keys are kept, not refused)."""

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    occurred_at = fields.AwareDateTime(required=True)
    account_code = fields.String(required=True)
    event_code = fields.String(required=True)
    registration_code = fields.String(required=True)
    current = fields.Nested(_Status, required=True)
    previous = fields.Nested(_Status, load_default=None, allow_none=True)
    subject = fields.Nested(_Subject, load_default=None, allow_none=True)
    actor = fields.Dict(load_default=None, allow_none=True)

    @validates_schema
    def _subject_matches_type(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] != status_events.REGISTRATION_STATUS_CHANGED and data.get("subject") is None:
            raise ValidationError("a session or agenda-item status change names its subject", "subject")


@dataclass
class IngestResult:
    id: str | None
    status: str  # accepted | unchanged (it already had that status) | duplicate | rejected
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.errors:
            out["errors"] = self.errors
        return out


def ingest(session: Session, account: Account, events: list[Any]) -> list[IngestResult]:
    """Apply and record each valid event of the batch, in the caller's transaction."""
    results = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            results.append(IngestResult(None, "rejected", {f"events.{index}": ["must be an object"]}))
            continue
        try:
            data = IngestEventSchema().load(raw)
        except ValidationError as exc:
            results.append(IngestResult(raw.get("id") if isinstance(raw.get("id"), str) else None, "rejected",
                                        flatten_messages(exc.messages)))
            continue
        if data["account_code"] != account.account_code:
            results.append(IngestResult(data["id"], "rejected", {"account_code": ["not the account of this token"]}))
            continue
        if session.get(StatusChangeEvent, data["id"]) is not None:
            results.append(IngestResult(data["id"], "duplicate"))
            continue
        with session.begin_nested():  # one bad event must not undo the others (a rejected one writes nothing)
            status, problem = _apply(session, account, data)
        results.append(IngestResult(data["id"], status, problem))
    return results


def _apply(session: Session, account: Account, data: dict[str, Any]) -> tuple[str, dict[str, list[str]]]:
    """Find the registration and hand the change to the shared writer: (result status, errors)."""
    event = session.scalar(select(Event).where(Event.account_id == account.id, Event.event_code == data["event_code"]))
    if event is None:
        return "rejected", {"event_code": [f"no event {data['event_code']!r} in account {account.account_code}"]}
    reg = session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                    Registration.registration_code == data["registration_code"]))
    if reg is None:
        return "rejected", {"registration_code": [f"no registration {data['registration_code']!r} in event {event.event_code}"]}
    try:
        outcome = change_status(
            session, account_code=account.account_code, event=event, registration=reg, type=data["type"],
            status=data["current"]["status"], subject_code=(data.get("subject") or {}).get("code"),
            actor=data.get("actor") or {"type": "api", "id": None}, event_id=data["id"],
            occurred_at=data["occurred_at"], add_missing_subject=True)
    except StatusChangeRejected as exc:
        return "rejected", {_FIELDS.get(exc.field, exc.field): [exc.reason]}
    return ("accepted" if outcome.changed else "unchanged"), {}
