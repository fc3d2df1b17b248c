"""Helpers of the activity-job tests: attendees in the harness's event, status changes written as
the core writes them (the change, its §5.4 event and the outbox row in one transaction), and the
delivery ledger driven through the core's own functions."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from connectors import status_events
from connectors.db import transaction
from connectors.jobs import deliveries
from connectors.models import Account, Delivery, Event, Job, JobRun, Profile, Registration, RegistrationStatus
from connectors.testing import ACCOUNT_CODE, EVENT_CODE

REG, SESSION, AGENDA = ("eloqua.activity_on_registration_status", "eloqua.activity_on_session_status",
                        "eloqua.activity_on_agenda_item_status")
CREATE_ACTIVITY = r"(?i)/api/rest/2\.0/data/activity"
SUBJECTS = {SESSION: {"kind": "session", "code": "S101", "name": "Keynote: The Future of Events"},
            AGENDA: {"kind": "agenda_item", "code": "A7", "name": "Lunch & Learn"}}


def attendee(h, email: str, status: str = "New", first: str = "Ann") -> str:
    """A profile registered for the harness's event; returns the registration code."""
    with transaction(h.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        event = s.scalar(select(Event).where(Event.account_id == account.id, Event.event_code == EVENT_CODE))
        profile = Profile(account_id=account.id, pin=f"P{uuid.uuid4().hex[:8]}", email=email, first_name=first,
                          last_name="Tester", external_ids={})
        s.add(profile)
        s.flush()
        reg = Registration(event_id=event.id, profile_id=profile.id, registration_code=f"R{uuid.uuid4().hex[:8]}",
                           attendee_type_code="Attendee", status_label=status, external_ids={}, version=1)
        s.add(reg)
        s.flush()
        return reg.registration_code


def change(h, code: str, status: str, kind: str = REG, at: datetime | None = None) -> str:
    """One status change (of the registration, or of its session / agenda item); the event id."""
    at = at or datetime.now(timezone.utc).replace(microsecond=0)
    with transaction(h.factory) as s:
        reg = s.scalar(select(Registration).where(Registration.registration_code == code))
        event = s.get(Event, reg.event_id)
        account = s.get(Account, event.account_id)
        statuses = {st.label: st.classification for st in s.scalars(
            select(RegistrationStatus).where(RegistrationStatus.event_id == event.id))}
        previous, subject, type_ = (reg.status_label, statuses.get(reg.status_label)), None, status_events.REGISTRATION_STATUS_CHANGED
        if kind == REG:
            reg.status_label = status
            current = (status, statuses[status])
        else:
            subject = SUBJECTS[kind]
            type_ = status_events.SESSION_STATUS_CHANGED if kind == SESSION else status_events.AGENDA_ITEM_STATUS_CHANGED
            previous, current = None, (status, None)
        reg.version += 1
        s.flush()
        return status_events.write_registration_changes(s, account_code=account.account_code, event=event, changes=[
            status_events.StatusChange(reg, s.get(Profile, reg.profile_id), previous, current, type=type_,
                                       subject=subject, occurred_at=at)], actor={"type": "user", "id": "u1"})[0]


def accepted_job(h, key: str = REG, **params) -> int:
    """A job submitted and accepted (its check against the sandbox passed); its id."""
    result = h.run(key, params)
    assert result.status == "succeeded", result.error
    return job_of(h, result.run_id)


def job_of(h, run_id: int) -> int:
    with h.factory() as s:
        return s.get(JobRun, run_id).job_id


def job(h, job_id: int) -> Job:
    with h.factory() as s:
        return s.get(Job, job_id)


def plan(h, event_id: str) -> list[int]:
    return deliveries.plan_event(h.factory, h.registry, event_id)


def deliver(h, delivery_id: int, worker: str = "w1") -> str:
    return deliveries.deliver(h.factory, h.registry, h.box, delivery_id, worker)


def delivery(h, delivery_id: int) -> Delivery:
    with h.factory() as s:
        return s.get(Delivery, delivery_id)


def profile_ids(h, code: str) -> dict:
    with h.factory() as s:
        reg = s.scalar(select(Registration).where(Registration.registration_code == code))
        return dict(s.get(Profile, reg.profile_id).external_ids or {})
