"""Status changes sent by the event platform (``POST /api/v1/status-changes``).

Each event is validated on its own: the valid ones are applied to the store (the registration's,
session's or agenda item's status) and recorded — with the sender's id, which makes a resent
event a harmless duplicate — and each rejected one is named with its reasons. Recording goes
through the same writer as every other change, so event-triggered jobs see no difference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import status_events
from .errors import flatten_messages
from .models import (
    AGENDA_ITEM_STATUSES, SESSION_STATUSES, Account, AgendaItem, AgendaItemRegistration, Event, Profile, Registration,
    RegistrationStatus, Session as EventSession, SessionRegistration, StatusChangeEvent,
)
from .status_events import EVENT_TYPES, SESSION_STATUS_CHANGED, StatusChange

MAX_EVENTS = 500


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
        needs = data["type"] != status_events.REGISTRATION_STATUS_CHANGED
        if needs and data.get("subject") is None:
            raise ValidationError("a session or agenda-item status change names its subject", "subject")
        allowed = SESSION_STATUSES if data["type"] == SESSION_STATUS_CHANGED else AGENDA_ITEM_STATUSES
        if needs and data["current"]["status"] not in allowed:
            raise ValidationError(f"must be one of: {', '.join(allowed)}", "current")


@dataclass
class IngestResult:
    id: str | None
    status: str  # accepted | duplicate | rejected
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
        with session.begin_nested():  # one bad event must not undo the others
            problem = _apply(session, account, data)
        results.append(IngestResult(data["id"], "rejected", problem) if problem else IngestResult(data["id"], "accepted"))
    return results


def _apply(session: Session, account: Account, data: dict[str, Any]) -> dict[str, list[str]] | None:
    event = session.scalar(select(Event).where(Event.account_id == account.id, Event.event_code == data["event_code"]))
    if event is None:
        return {"event_code": [f"no event {data['event_code']!r} in account {account.account_code}"]}
    reg = session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                    Registration.registration_code == data["registration_code"]))
    if reg is None:
        return {"registration_code": [f"no registration {data['registration_code']!r} in event {event.event_code}"]}
    new = data["current"]["status"]
    if data["type"] == status_events.REGISTRATION_STATUS_CHANGED:
        statuses = {st.label: st for st in session.scalars(select(RegistrationStatus).where(RegistrationStatus.event_id == event.id))}
        if new not in statuses:
            return {"current": [f"{new!r} is not a registration status of event {event.event_code}"]}
        before = reg.status_label
        if before != new:
            reg.status_label, reg.version = new, reg.version + 1
        previous = (before, statuses[before].classification) if before in statuses else None
        current, tags, subject = (new, statuses[new].classification), tuple(statuses[new].tags or ()), None
    else:
        found = _subject_link(session, event, reg, data)
        if isinstance(found, dict):
            return found
        link, subject = found
        previous, current, tags = (link.status, None) if link.status else None, (new, None), ()
        if link.status != new:
            link.status, link.version = new, (link.version or 0) + 1
    session.flush()
    status_events.write_registration_changes(
        session, account_code=account.account_code, event=event, actor=data.get("actor") or {"type": "api", "id": None},
        changes=[StatusChange(reg, session.get(Profile, reg.profile_id), previous, current, tags, type=data["type"],
                              subject=subject, event_id=data["id"], occurred_at=data["occurred_at"])])
    return None


def _subject_link(session: Session, event: Event, reg: Registration, data: dict[str, Any]):
    """The registration's session or agenda-item row (created when the platform reports a new one)."""
    code = data["subject"]["code"]
    if data["type"] == SESSION_STATUS_CHANGED:
        target = session.scalar(select(EventSession).where(EventSession.event_id == event.id, EventSession.session_code == code))
        if target is None:
            return {"subject": [f"no session {code!r} in event {event.event_code}"]}
        link = session.scalar(select(SessionRegistration).where(SessionRegistration.registration_id == reg.id,
                                                                SessionRegistration.session_id == target.id))
        if link is None:
            link = SessionRegistration(registration_id=reg.id, session_id=target.id, status=None, version=0)
            session.add(link)
        return link, {"kind": "session", "code": code, "name": target.title}
    target = session.scalar(select(AgendaItem).where(AgendaItem.event_id == event.id, AgendaItem.code == code))
    if target is None:
        return {"subject": [f"no agenda item {code!r} in event {event.event_code}"]}
    link = session.scalar(select(AgendaItemRegistration).where(AgendaItemRegistration.registration_id == reg.id,
                                                               AgendaItemRegistration.agenda_item_id == target.id))
    if link is None:
        link = AgendaItemRegistration(registration_id=reg.id, agenda_item_id=target.id, status=None, version=0)
        session.add(link)
    return link, {"kind": "agenda_item", "code": code, "name": target.name}
