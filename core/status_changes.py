"""Changing a status: a registration's, or one of its sessions' or agenda items'.

The one writer behind both the ingestion endpoint and the admin's forms, so a change looks the
same to event-triggered jobs wherever it was made: the new status, the version bumps (the
registration's always, so ``registration_version`` orders every change of it), the time of the
change (``status_changed_at``) and the §5.4 event with its outbox row all go into the caller's
transaction. Setting the status a row already has changes nothing and records nothing; so does a
change that happened (``occurred_at``) before the last one applied to the same row: it is stale.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import status_events
from .models import (
    AGENDA_ITEM_STATUSES, SESSION_STATUSES, AgendaItem, AgendaItemRegistration, Event, Profile, Registration,
    RegistrationStatus, Session as EventSession, SessionRegistration, utcnow,
)
from .status_events import AGENDA_ITEM_STATUS_CHANGED, REGISTRATION_STATUS_CHANGED, SESSION_STATUS_CHANGED

#: The statuses a session or agenda-item registration may have, by event type.
SUBJECT_STATUSES = {SESSION_STATUS_CHANGED: SESSION_STATUSES, AGENDA_ITEM_STATUS_CHANGED: AGENDA_ITEM_STATUSES}


class StatusChangeRejected(ValueError):
    """The change cannot be made; ``field`` is ``status`` or ``subject``, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Outcome:
    previous: str | None   # the status before (None: the session or agenda item was new to it)
    current: str
    event_id: str | None   # the recorded event's id; None when nothing changed
    version: int | None = None  # the registration's version after it (its own status changes)
    stale: bool = False    # nothing changed: it happened before the last change applied (``current`` is kept)

    @property
    def changed(self) -> bool:
        return self.event_id is not None


def registration_statuses(session: Session, event: Event) -> dict[str, RegistrationStatus]:
    """The event's status catalogue by label, in the order it was defined."""
    rows = session.scalars(select(RegistrationStatus).where(RegistrationStatus.event_id == event.id)
                           .order_by(RegistrationStatus.id))
    return {row.label: row for row in rows}


def change_status(session: Session, *, account_code: str, event: Event, registration: Registration, type: str,
                  status: str, subject_code: str | None = None, actor: dict[str, Any],
                  event_id: str | None = None, occurred_at: datetime | None = None,
                  add_missing_subject: bool = False) -> Outcome:
    """Set the status and record the change, in the caller's transaction.

    ``type`` is one of ``status_events.EVENT_TYPES``; a session or agenda-item change names its
    ``subject_code``. ``add_missing_subject`` lets the event platform report a session or agenda
    item the registration had not taken yet (the admin only changes existing ones). ``event_id``
    names the recorded event (default: a new ``evt_…``). A change with an ``occurred_at`` before
    the row's ``status_changed_at`` is stale: nothing changes (the admin's, without one, never is).
    """
    if type == REGISTRATION_STATUS_CHANGED:
        [outcome] = change_registration_statuses(session, account_code=account_code, event=event, changes=[
            RegistrationChange(registration.id, status, actor, event_id=event_id, occurred_at=occurred_at)])
        if isinstance(outcome, StatusChangeRejected):
            raise outcome
        # what the database now holds, as the caller's object's loaded state (not a change to flush)
        set_committed_value(registration, "status_label", outcome.current)
        set_committed_value(registration, "version", outcome.version)
        session.expire(registration, ["date_modified", "status_changed_at"])
        return outcome
    reg, profile = session.execute(  # fresh, and locked; with the person the event names
        select(Registration, Profile).join(Profile, Profile.id == Registration.profile_id)
        .where(Registration.id == registration.id).with_for_update(of=Registration)
        .execution_options(populate_existing=True)).one()
    if type in SUBJECT_STATUSES:
        allowed = SUBJECT_STATUSES[type]
        if status not in allowed:
            raise StatusChangeRejected("status", f"{status!r} is not one of: {', '.join(allowed)}")
        link, subject = _subject_link(session, event, reg, type, subject_code, add_missing_subject)
        before = link.status
        if before == status or is_stale(occurred_at, link.status_changed_at):
            return Outcome(before, before, None, stale=before != status)
        link.status, link.version = status, (link.version or 0) + 1
        link.status_changed_at = occurred_at or utcnow()
        previous, current, tags = ((before, None) if before else None), (status, None), ()
    else:
        raise StatusChangeRejected("type", f"{type!r} is not one of: {', '.join(status_events.EVENT_TYPES)}")
    reg.version += 1
    session.flush()
    written = status_events.write_registration_changes(
        session, account_code=account_code, event=event, actor=actor,
        changes=[status_events.StatusChange(reg, profile, previous, current, tags,
                                            type=type, subject=subject, event_id=event_id, occurred_at=occurred_at)])
    return Outcome(before, status, written[0])


_registrations, _profiles, _statuses = Registration.__table__, Profile.__table__, RegistrationStatus.__table__
_old, _new = _statuses.alias("old_status"), _statuses.alias("new_status")
#: the statements of ``change_registration_statuses``, built once: building them cost as much as running them
_READ = (
    select(_registrations.c.id, _registrations.c.registration_code, _registrations.c.attendee_type_code,
           _registrations.c.status_label, _registrations.c.version, _registrations.c.status_changed_at,
           _profiles.c.pin, _profiles.c.external_key,
           _profiles.c.email, _old.c.label.label("old_label"), _old.c.classification.label("old_class"),
           _new.c.label.label("new_label"), _new.c.classification.label("new_class"), _new.c.tags.label("new_tags"))
    .join(_profiles, _profiles.c.id == _registrations.c.profile_id)
    .outerjoin(_old, and_(_old.c.event_id == bindparam("event_id"), _old.c.label == _registrations.c.status_label))
    .outerjoin(_new, and_(_new.c.event_id == bindparam("event_id"),  # a row for each new status it has
                          _new.c.label.in_(bindparam("targets", expanding=True))))
    .where(_registrations.c.id.in_(bindparam("ids", expanding=True)), _registrations.c.event_id == bindparam("event_id"))
    .order_by(_registrations.c.id).with_for_update(of=_registrations))
_UPDATE = (update(_registrations).where(_registrations.c.id == bindparam("b_id"))
           .values(status_label=bindparam("b_status"), version=bindparam("b_version"),
                   status_changed_at=bindparam("b_at"), date_modified=bindparam("b_now")))


def is_stale(occurred_at: datetime | None, last_changed_at: datetime | None) -> bool:
    """A change older than the last one applied to the row must not undo it (a late or replayed
    event). Without either time (the admin's change is "now"; an imported row has none) it is not."""
    return occurred_at is not None and last_changed_at is not None and occurred_at < last_changed_at


@dataclass(frozen=True)
class RegistrationChange:
    """One registration's own status to set, for ``change_registration_statuses``."""
    registration_id: int
    status: str
    actor: dict[str, Any]
    event_id: str | None = None        # the recorded event's id (default: a new ``evt_…``)
    occurred_at: datetime | None = None


def change_registration_statuses(session: Session, *, account_code: str, event: Event,
                                 changes: Sequence[RegistrationChange]) -> list[Outcome | StatusChangeRejected]:
    """Registrations' own statuses, the most frequent change, many at a time in plain SQL: one read
    (the registrations locked in id order, so two batches cannot deadlock, with their people and
    the catalogue's rows for their old and new statuses), one UPDATE for all and the events' two
    multi-row INSERTs. The ORM's unit of work, and a round of statements per change, cost as much
    again. Each change gets its outcome, in order; a rejected or stale one writes nothing and the
    others go on. A registration changed twice in the batch is recorded twice, its version going up
    each time; the UPDATE also keeps when its status last changed (``status_changed_at``)."""
    if not changes:
        return []
    rows = session.execute(_READ, {"event_id": event.id, "ids": sorted({c.registration_id for c in changes}),
                                   "targets": sorted({c.status for c in changes})}).all()
    catalogue = {row.new_label: (row.new_class, tuple(row.new_tags or ())) for row in rows if row.new_label is not None}
    current = {row.id: (row.status_label, row.old_class if row.old_label is not None else None, row.version, row,
                        row.status_changed_at) for row in rows}
    outcomes: list[Outcome | StatusChangeRejected] = []
    recorded: list[status_events.StatusChange] = []
    now = utcnow()
    for change in changes:
        if change.registration_id not in current:
            outcomes.append(StatusChangeRejected(
                "registration", f"no registration #{change.registration_id} in event {event.event_code}"))
            continue
        if change.status not in catalogue:
            outcomes.append(StatusChangeRejected(
                "status", f"{change.status!r} is not a registration status of event {event.event_code}"))
            continue
        before, before_class, version, row, changed_at = current[change.registration_id]
        if before == change.status or is_stale(change.occurred_at, changed_at):
            outcomes.append(Outcome(before, before, None, version, stale=before != change.status))
            continue
        (classification, tags), version = catalogue[change.status], version + 1
        current[row.id] = (change.status, classification, version, row, change.occurred_at or now)
        event_id = change.event_id or status_events.new_event_id()
        recorded.append(status_events.StatusChange(
            SimpleNamespace(id=row.id, registration_code=row.registration_code,
                            attendee_type_code=row.attendee_type_code, version=version),
            SimpleNamespace(pin=row.pin, external_key=row.external_key, email=row.email),
            (before, before_class) if before_class is not None else None, (change.status, classification), tags,
            event_id=event_id, occurred_at=change.occurred_at, actor=change.actor))
        outcomes.append(Outcome(before, change.status, event_id, version))
    if recorded:
        changed = {written.registration.id for written in recorded}  # each at its last status
        session.execute(_UPDATE, [{"b_id": reg_id, "b_status": current[reg_id][0], "b_version": current[reg_id][2],
                                   "b_at": current[reg_id][4], "b_now": now} for reg_id in sorted(changed)])
        status_events.write_registration_changes(session, account_code=account_code, event=event, changes=recorded)
    return outcomes


def _subject_link(session: Session, event: Event, reg: Registration, type: str, code: str | None, add_missing: bool):
    """The registration's row for that session or agenda item, and the event's ``subject``."""
    if not code:
        raise StatusChangeRejected("subject", "a session or agenda-item status change names its subject")
    if type == SESSION_STATUS_CHANGED:
        what, target_model, link_model, target_key = "session", EventSession, SessionRegistration, "session_id"
        target = session.scalar(select(EventSession).where(EventSession.event_id == event.id,
                                                           EventSession.session_code == code))
    else:
        what, target_model, link_model, target_key = "agenda item", AgendaItem, AgendaItemRegistration, "agenda_item_id"
        target = session.scalar(select(AgendaItem).where(AgendaItem.event_id == event.id, AgendaItem.code == code))
    if target is None:
        raise StatusChangeRejected("subject", f"no {what} {code!r} in event {event.event_code}")
    link = session.scalar(select(link_model).where(link_model.registration_id == reg.id,
                                                   getattr(link_model, target_key) == target.id)
                          .with_for_update().execution_options(populate_existing=True))
    if link is None:
        if not add_missing:
            raise StatusChangeRejected("subject", f"registration {reg.registration_code} has not taken {what} {code!r}")
        link = link_model(registration_id=reg.id, status=None, version=0, **{target_key: target.id})
        session.add(link)
    name = target.title if target_model is EventSession else target.name
    return link, {"kind": "session" if what == "session" else "agenda_item", "code": code, "name": name}
