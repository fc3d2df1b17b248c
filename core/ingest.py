"""Status changes sent by the event platform (``POST /api/v1/status-changes``).

Each event is validated on its own: the valid ones are applied to the store (the registration's,
session's or agenda item's status) and each rejected one is named with its reasons. Applying and
recording go through ``status_changes``, the writer the admin uses too, so event-triggered jobs
see no difference; an event that changes nothing is ``unchanged``, one older than the last change
applied to its subject is ``stale``. The sender's ids are remembered per account with their
outcome (``received_events``): a resent or replayed id is a harmless ``duplicate``, and another
account's ids never collide. A rejected id is not remembered: sent again once the cause is fixed
(the registration exists now), it applies — unless a newer change came first, then it is stale.

What reaches the database is bounded here (lengths, no NUL character, numbers that fit, times
that convert), so a hostile event is rejected with its reason instead of failing the batch.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import status_events
from .errors import flatten_messages
from .models import Account, Event, Registration, utcnow
from .models.events import ReceivedEvent
from .storable import storable, unstorable
from .status_changes import (
    Outcome, RegistrationChange, StatusChangeRejected, change_registration_statuses, change_status,
)
from .status_events import EVENT_TYPES

MAX_EVENTS = 500
#: How far ahead of our clock an ``occurred_at`` may be (the sender's clock may run fast). Further
#: ahead would make every later real change of its subject stale, so it is rejected.
MAX_CLOCK_SKEW = timedelta(hours=1)
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: The largest whole number a JSON reader keeps exactly (JavaScript's, 2^53 - 1): the bound of the
#: numbers an ``actor`` may carry on to subscribers.
MAX_JSON_INT = 2 ** 53 - 1
#: The outcomes whose id is remembered: sending it again changes nothing. A rejected one is not.
REMEMBERED = ("accepted", "unchanged", "stale")
#: The shared writer's field names, as this endpoint's events name them.
_FIELDS = {"status": "current"}


class IngestRequestRefused(ValueError):
    """The request as a whole cannot be read: ``status`` 400 or 413, ``reason`` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def read_events(raw: bytes) -> list[Any]:
    """The events of a request body: a JSON list, or ``{"events": [...]}``, at most ``MAX_EVENTS``.

    JSON nested deeper than the parser's recursion limit is refused here (the parser raises
    ``RecursionError``, not a ``ValueError``); a shallower hostile value is the event's own problem."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise IngestRequestRefused(400, "the JSON is nested too deeply") from None
    except ValueError as exc:  # also bytes that are not UTF-8
        raise IngestRequestRefused(400, f"not valid JSON: {exc}") from None
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        raise IngestRequestRefused(400, 'the body must be a JSON list of events, or {"events": [...]}')
    if len(events) > MAX_EVENTS:
        raise IngestRequestRefused(413, f"at most {MAX_EVENTS} events per request; split the batch")
    return events


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length), storable], **kwargs)


def _plausible_time(value: datetime) -> None:
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValidationError("not a representable time") from None
    if utc < EARLIEST:
        raise ValidationError(f"must not be before {EARLIEST.isoformat()}")
    if utc > utcnow() + MAX_CLOCK_SKEW:
        raise ValidationError(f"must not be more than {MAX_CLOCK_SKEW} ahead of the receiver's clock")


def _bounded_value(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be kept in the event's JSON for subscribers, or None: small objects of
    short strings and numbers that fit."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return "too long (at most 200 characters)" if len(value) > 200 else unstorable(value)
    if isinstance(value, int):
        return None if abs(value) <= MAX_JSON_INT else f"a number out of range (at most ±{MAX_JSON_INT})"
    if isinstance(value, float):
        return None if math.isfinite(value) else "not a finite number"
    if isinstance(value, dict) and depth < 2 and len(value) <= 20:
        for key, item in value.items():
            problem = _bounded_value(key, depth + 1) or _bounded_value(item, depth + 1)
            if problem:
                return f"{key[:40]!r}: {problem}"
        return None
    return "must be a small object of strings and numbers (at most 20 keys, 2 levels)"


def _bounded_actor(value: dict[str, Any]) -> None:
    problem = _bounded_value(value)
    if problem:
        raise ValidationError(problem)


class _Status(Schema):
    class Meta:
        unknown = EXCLUDE

    status = _text(100, required=True)
    classification = _text(100, load_default=None, allow_none=True)


class _Subject(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.OneOf(("session", "session_instance", "agenda_item")))
    code = _text(64, required=True)


class IngestEventSchema(Schema):
    """One status change, shaped as ``specs/certain.md`` §5.4 (unknown keys are ignored, not refused).
    Every value is bounded to what its column holds: a hostile one rejects only its event."""

    class Meta:
        unknown = EXCLUDE

    id = _text(40, required=True)
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    occurred_at = fields.AwareDateTime(required=True, validate=_plausible_time)
    account_code = _text(64, required=True)
    event_code = _text(64, required=True)
    registration_code = _text(64, required=True)
    current = fields.Nested(_Status, required=True)
    previous = fields.Nested(_Status, load_default=None, allow_none=True)
    subject = fields.Nested(_Subject, load_default=None, allow_none=True)
    actor = fields.Dict(load_default=None, allow_none=True, validate=_bounded_actor)

    @validates_schema
    def _subject_matches_type(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] != status_events.REGISTRATION_STATUS_CHANGED and data.get("subject") is None:
            raise ValidationError("a session or agenda-item status change names its subject", "subject")


@dataclass
class IngestResult:
    id: str | None
    status: str  # accepted | unchanged (it already had that status) | stale | duplicate | rejected
    errors: dict[str, list[str]] = field(default_factory=dict)
    recorded_as: str | None = None  # the id of the status-change event it was recorded as (accepted)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.errors:
            out["errors"] = self.errors
        return out


def ingest_and_commit(session: Session, account: Account, events: list[Any], attempts: int = 3) -> list[IngestResult]:
    """``ingest`` and commit. Two requests sending the same new id at once both see it unknown; the
    second to commit breaks the unique (account, id) and is rolled back and applied again, when
    that id is then a duplicate (and its other events apply as before)."""
    for attempt in range(attempts):
        try:
            results = ingest(session, account, events)
            session.commit()
            return results
        except IntegrityError:
            session.rollback()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def ingest(session: Session, account: Account, events: list[Any]) -> list[IngestResult]:
    """Apply and record each valid event of the batch, in order, in the caller's transaction.

    The batch's known ids, events and registrations are each read in one statement, a run of
    registration status changes in one event is written together (``change_registration_statuses``)
    and the ids to remember are written with one multi-row INSERT."""
    results: list[IngestResult | None] = [None] * len(events)
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            results[index] = IngestResult(None, "rejected", {f"events.{index}": ["must be an object"]})
            continue
        try:
            data = _EVENT_SCHEMA.load(raw)
        except ValidationError as exc:
            results[index] = IngestResult(_readable_id(raw.get("id")), "rejected", flatten_messages(exc.messages))
            continue
        if data["account_code"] != account.account_code:
            results[index] = IngestResult(data["id"], "rejected", {"account_code": ["not the account of this token"]})
            continue
        valid.append((index, data))
    if valid:
        _Batch(session, account, valid).apply(results)
    return [result for result in results if result is not None]


def _readable_id(value: Any) -> str | None:
    """The id to name a rejected event by, when it is one we can echo back."""
    return value if isinstance(value, str) and len(value) <= 40 and unstorable(value) is None else None


class _Batch:
    """The valid events of one request, applied in order."""

    def __init__(self, session: Session, account: Account, valid: list[tuple[int, dict[str, Any]]]) -> None:
        self.session, self.account, self.valid = session, account, valid
        self.known = set(session.scalars(select(ReceivedEvent.source_id).where(
            ReceivedEvent.account_id == account.id,
            ReceivedEvent.source_id.in_({data["id"] for _, data in valid}))))
        self.events = {e.event_code: e for e in session.scalars(select(Event).where(
            Event.account_id == account.id, Event.event_code.in_({data["event_code"] for _, data in valid})))}
        self.registrations = dict(((event_id, code), reg_id) for reg_id, event_id, code in session.execute(
            select(Registration.id, Registration.event_id, Registration.registration_code).where(
                Registration.event_id.in_({e.id for e in self.events.values()}),
                Registration.registration_code.in_({data["registration_code"] for _, data in valid}))))
        self.run: list[tuple[int, str, RegistrationChange]] = []  # registration changes waiting to be written
        self.run_ids: set[str] = set()
        self.run_event: Event | None = None
        self.remembered: list[dict[str, Any]] = []  # the rows of received_events to write

    def apply(self, results: list[IngestResult | None]) -> None:
        for index, data in self.valid:
            if data["id"] in self.run_ids:
                self._write_run(results)  # a resent id within the batch is a duplicate once the first is written
            if data["id"] in self.known:
                results[index] = IngestResult(data["id"], "duplicate")
                continue
            located = self._locate(data)
            if isinstance(located, IngestResult):
                results[index] = located
                continue
            event, reg_id = located
            if data["type"] == status_events.REGISTRATION_STATUS_CHANGED:
                if self.run_event is not event:
                    self._write_run(results)
                self.run_event = event
                self.run_ids.add(data["id"])
                self.run.append((index, data["id"], RegistrationChange(
                    reg_id, data["current"]["status"], data.get("actor") or _API_ACTOR,
                    occurred_at=data["occurred_at"])))
                continue
            self._write_run(results)  # in order: a session's change comes after the registration's before it
            results[index] = self._remember(self._subject_change(event, reg_id, data))
        self._write_run(results)
        if self.remembered:
            self.session.execute(_INSERT_RECEIVED, self.remembered)

    def _locate(self, data: dict[str, Any]) -> tuple[Event, int] | IngestResult:
        """The event and registration the change is about, or why it is rejected."""
        event = self.events.get(data["event_code"])
        if event is None:
            return IngestResult(data["id"], "rejected", {
                "event_code": [f"no event {data['event_code']!r} in account {self.account.account_code}"]})
        reg_id = self.registrations.get((event.id, data["registration_code"]))
        if reg_id is None:
            return IngestResult(data["id"], "rejected", {
                "registration_code": [f"no registration {data['registration_code']!r} in event {event.event_code}"]})
        return event, reg_id

    def _write_run(self, results: list[IngestResult | None]) -> None:
        if not self.run:
            return
        outcomes = change_registration_statuses(self.session, account_code=self.account.account_code,
                                                event=self.run_event, changes=[change for _, _, change in self.run])
        for (index, source_id, _), outcome in zip(self.run, outcomes):
            results[index] = self._remember(_result(source_id, outcome))
        self.run, self.run_ids, self.run_event = [], set(), None

    def _remember(self, result: IngestResult) -> IngestResult:
        if result.status in REMEMBERED:
            self.known.add(result.id)
            self.remembered.append({"account_id": self.account.id, "source_id": result.id, "outcome": result.status,
                                    "status_change_event_id": result.recorded_as, "received_at": utcnow()})
        return result

    def _subject_change(self, event: Event, reg_id: int, data: dict[str, Any]) -> IngestResult:
        """A session's or agenda item's status, which may add the link: in a savepoint, so that a
        rejected one leaves nothing behind."""
        try:
            with self.session.begin_nested():
                outcome = change_status(
                    self.session, account_code=self.account.account_code, event=event,
                    registration=self.session.get(Registration, reg_id), type=data["type"],
                    status=data["current"]["status"], subject_code=data["subject"]["code"],
                    actor=data.get("actor") or _API_ACTOR, occurred_at=data["occurred_at"],
                    add_missing_subject=True)
        except StatusChangeRejected as exc:
            outcome = exc
        return _result(data["id"], outcome)


_API_ACTOR = {"type": "api", "id": None}
_EVENT_SCHEMA = IngestEventSchema()  # built once: a schema per event cost more than loading it
_INSERT_RECEIVED = insert(ReceivedEvent.__table__)


def _result(source_id: str, outcome: Outcome | StatusChangeRejected) -> IngestResult:
    if isinstance(outcome, StatusChangeRejected):
        return IngestResult(source_id, "rejected", {_FIELDS.get(outcome.field, outcome.field): [outcome.reason]})
    if outcome.changed:
        return IngestResult(source_id, "accepted", recorded_as=outcome.event_id)
    return IngestResult(source_id, "stale" if outcome.stale else "unchanged")
