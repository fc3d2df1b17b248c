"""Status changes sent by the event platform (``POST /api/v1/status-changes``).

Each event is validated on its own: the valid ones are applied to the store (the registration's,
session's or agenda item's status) and recorded — with the sender's id, which makes a resent
event a harmless duplicate — and each rejected one is named with its reasons. Applying and
recording go through ``status_changes``, the writer the admin uses too, so event-triggered jobs
see no difference; an event that changes nothing is ``unchanged``.
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
from .status_changes import (
    Outcome, RegistrationChange, StatusChangeRejected, change_registration_statuses, change_status,
)
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
    """Apply and record each valid event of the batch, in order, in the caller's transaction.

    The batch's known ids, events and registrations are each read in one statement, and a run of
    registration status changes in one event is written together (``change_registration_statuses``)."""
    results: list[IngestResult | None] = [None] * len(events)
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            results[index] = IngestResult(None, "rejected", {f"events.{index}": ["must be an object"]})
            continue
        try:
            data = IngestEventSchema().load(raw)
        except ValidationError as exc:
            results[index] = IngestResult(raw.get("id") if isinstance(raw.get("id"), str) else None, "rejected",
                                          flatten_messages(exc.messages))
            continue
        if data["account_code"] != account.account_code:
            results[index] = IngestResult(data["id"], "rejected", {"account_code": ["not the account of this token"]})
            continue
        valid.append((index, data))
    if valid:
        _Batch(session, account, valid).apply(results)
    return [result for result in results if result is not None]


class _Batch:
    """The valid events of one request, applied in order."""

    def __init__(self, session: Session, account: Account, valid: list[tuple[int, dict[str, Any]]]) -> None:
        self.session, self.account, self.valid = session, account, valid
        self.recorded = set(session.scalars(select(StatusChangeEvent.id).where(
            StatusChangeEvent.id.in_({data["id"] for _, data in valid}))))
        self.events = {e.event_code: e for e in session.scalars(select(Event).where(
            Event.account_id == account.id, Event.event_code.in_({data["event_code"] for _, data in valid})))}
        self.registrations = dict(((event_id, code), reg_id) for reg_id, event_id, code in session.execute(
            select(Registration.id, Registration.event_id, Registration.registration_code).where(
                Registration.event_id.in_({e.id for e in self.events.values()}),
                Registration.registration_code.in_({data["registration_code"] for _, data in valid}))))
        self.run: list[tuple[int, RegistrationChange]] = []  # registration changes waiting to be written
        self.run_ids: set[str] = set()
        self.run_event: Event | None = None

    def apply(self, results: list[IngestResult | None]) -> None:
        for index, data in self.valid:
            if data["id"] in self.run_ids:
                self._write_run(results)  # a resent id within the batch is a duplicate once the first is written
            if data["id"] in self.recorded:
                results[index] = IngestResult(data["id"], "duplicate")
                continue
            event = self.events.get(data["event_code"])
            if event is None:
                results[index] = IngestResult(data["id"], "rejected", {
                    "event_code": [f"no event {data['event_code']!r} in account {self.account.account_code}"]})
                continue
            reg_id = self.registrations.get((event.id, data["registration_code"]))
            if reg_id is None:
                results[index] = IngestResult(data["id"], "rejected", {
                    "registration_code": [f"no registration {data['registration_code']!r} in event {event.event_code}"]})
                continue
            if data["type"] == status_events.REGISTRATION_STATUS_CHANGED:
                if self.run_event is not event:
                    self._write_run(results)
                self.run_event = event
                self.run_ids.add(data["id"])
                self.run.append((index, RegistrationChange(
                    reg_id, data["current"]["status"], data.get("actor") or _API_ACTOR, event_id=data["id"],
                    occurred_at=data["occurred_at"])))
                continue
            self._write_run(results)  # in order: a session's change comes after the registration's before it
            results[index] = self._subject_change(event, reg_id, data)
        self._write_run(results)

    def _write_run(self, results: list[IngestResult | None]) -> None:
        if not self.run:
            return
        outcomes = change_registration_statuses(self.session, account_code=self.account.account_code,
                                                event=self.run_event, changes=[change for _, change in self.run])
        for (index, change), outcome in zip(self.run, outcomes):
            results[index] = _result(change.event_id, outcome)
            if isinstance(outcome, Outcome) and outcome.changed:
                self.recorded.add(change.event_id)
        self.run, self.run_ids, self.run_event = [], set(), None

    def _subject_change(self, event: Event, reg_id: int, data: dict[str, Any]) -> IngestResult:
        """A session's or agenda item's status, which may add the link: in a savepoint, so that a
        rejected one leaves nothing behind."""
        try:
            with self.session.begin_nested():
                outcome = change_status(
                    self.session, account_code=self.account.account_code, event=event,
                    registration=self.session.get(Registration, reg_id), type=data["type"],
                    status=data["current"]["status"], subject_code=data["subject"]["code"],
                    actor=data.get("actor") or _API_ACTOR, event_id=data["id"], occurred_at=data["occurred_at"],
                    add_missing_subject=True)
        except StatusChangeRejected as exc:
            outcome = exc
        if isinstance(outcome, Outcome) and outcome.changed:
            self.recorded.add(data["id"])
        return _result(data["id"], outcome)


_API_ACTOR = {"type": "api", "id": None}


def _result(event_id: str, outcome: Outcome | StatusChangeRejected) -> IngestResult:
    if isinstance(outcome, StatusChangeRejected):
        return IngestResult(event_id, "rejected", {_FIELDS.get(outcome.field, outcome.field): [outcome.reason]})
    return IngestResult(event_id, "accepted" if outcome.changed else "unchanged")
