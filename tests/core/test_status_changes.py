"""The one status-change writer (admin and ingestion): the change, its event and its outbox row
commit together, versions go up, and setting the status a row already has records nothing; a
change older than the last one applied is stale. Ingestion remembers the sender's ids per account
and bounds what it lets through to the database (both dialects)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from connectors.db import transaction
from connectors.models import (
    Account, AgendaItem, AgendaItemRegistration, Event, Outbox, Profile, Registration, Session as EventSession, SessionRegistration,
    StatusChangeEvent,
)
from connectors.ingest import ingest, ingest_and_commit
from connectors.models.events import ReceivedEvent
from connectors.seed import get_or_create_account, get_or_create_event
from connectors.status_changes import (
    Outcome, RegistrationChange, StatusChangeRejected, change_registration_statuses, change_status,
)
from connectors.status_events import AGENDA_ITEM_STATUS_CHANGED, REGISTRATION_STATUS_CHANGED, SESSION_STATUS_CHANGED

ACTOR = {"type": "user", "id": "u_1"}


@pytest.fixture
def world(factory):
    with transaction(factory) as s:
        account = get_or_create_account(s, "ACME", "Acme")
        event = get_or_create_event(s, account, "EV1", "Event One")
        profile = Profile(account_id=account.id, pin="P1", email="ann@acme.test", external_key="EK1",
                          custom={}, external_ids={})
        s.add(profile)
        s.flush()
        reg = Registration(event_id=event.id, profile_id=profile.id, registration_code="R1",
                           attendee_type_code="Attendee", status_label="New", external_ids={}, version=3)
        keynote = EventSession(event_id=event.id, session_code="S101", title="Keynote")
        dinner = AgendaItem(event_id=event.id, code="D1", name="Dinner")
        s.add_all([reg, keynote, dinner])
        s.flush()
        s.add_all([SessionRegistration(registration_id=reg.id, session_id=keynote.id, status="Registered"),
                   AgendaItemRegistration(registration_id=reg.id, agenda_item_id=dinner.id, status="Registered")])
        return {"event": event.id, "reg": reg.id}


def _change(factory, world, **kwargs):
    """One change in its own transaction, as the admin's request makes it."""
    with transaction(factory) as s:
        event = s.get(Event, world["event"])
        return change_status(s, account_code="ACME", event=event, registration=s.get(Registration, world["reg"]),
                             actor=ACTOR, **kwargs)


def _received(factory):
    """The remembered ids: {(account code, sender's id): (outcome, recorded event id)}."""
    with factory() as s:
        return {(code, r.source_id): (r.outcome, r.status_change_event_id) for r, code in s.execute(
            select(ReceivedEvent, Account.account_code).join(Account, Account.id == ReceivedEvent.account_id))}


def _rows(factory):
    with factory() as s:
        events = list(s.scalars(select(StatusChangeEvent).order_by(StatusChangeEvent.registration_version)))
        outbox = list(s.scalars(select(Outbox).order_by(Outbox.id)))
        return events, outbox


def test_registration_status_change_writes_one_event_and_one_outbox_row(factory, world):
    outcome = _change(factory, world, type=REGISTRATION_STATUS_CHANGED, status="Attended")
    assert outcome.changed and (outcome.previous, outcome.current) == ("New", "Attended")
    events, outbox = _rows(factory)
    assert len(events) == 1 and len(outbox) == 1
    payload = events[0].payload
    assert payload["id"] == outcome.event_id == outbox[0].message_id
    assert outbox[0].payload == payload and outbox[0].routing_key == REGISTRATION_STATUS_CHANGED
    assert payload["previous"] == {"status": "New", "classification": "accepted"}
    assert payload["current"] == {"status": "Attended", "classification": "accepted"}
    assert payload["subject"] is None and payload["tags"] == ["attended"] and payload["actor"] == ACTOR
    assert payload["registration_version"] == events[0].registration_version == 4
    assert payload["profile"] == {"pin": "P1", "external_key": "EK1", "email": "ann@acme.test"}
    with factory() as s:
        reg = s.get(Registration, world["reg"])
        assert (reg.status_label, reg.version) == ("Attended", 4)


def test_the_same_status_again_records_nothing(factory, world):
    _change(factory, world, type=REGISTRATION_STATUS_CHANGED, status="Attended")
    again = _change(factory, world, type=REGISTRATION_STATUS_CHANGED, status="Attended")
    assert not again.changed and again.event_id is None
    same_session = _change(factory, world, type=SESSION_STATUS_CHANGED, status="Registered", subject_code="S101")
    assert not same_session.changed
    events, outbox = _rows(factory)
    assert (len(events), len(outbox)) == (1, 1)
    with factory() as s:
        assert s.get(Registration, world["reg"]).version == 4


def test_session_and_agenda_item_changes_name_their_subject_and_bump_versions(factory, world):
    _change(factory, world, type=SESSION_STATUS_CHANGED, status="Attended", subject_code="S101")
    _change(factory, world, type=AGENDA_ITEM_STATUS_CHANGED, status="Cancelled", subject_code="D1")
    events, outbox = _rows(factory)
    assert [e.type for e in events] == [SESSION_STATUS_CHANGED, AGENDA_ITEM_STATUS_CHANGED]
    assert [o.routing_key for o in outbox] == [SESSION_STATUS_CHANGED, AGENDA_ITEM_STATUS_CHANGED]
    session_event, item_event = (e.payload for e in events)
    assert session_event["subject"] == {"kind": "session", "code": "S101", "name": "Keynote"}
    assert (session_event["previous"], session_event["current"]) == (
        {"status": "Registered", "classification": None}, {"status": "Attended", "classification": None})
    assert item_event["subject"] == {"kind": "agenda_item", "code": "D1", "name": "Dinner"}
    assert item_event["current"]["status"] == "Cancelled"
    assert [e.registration_version for e in events] == [4, 5]  # every change orders after the previous one
    with factory() as s:
        link = s.scalar(select(SessionRegistration))
        item = s.scalar(select(AgendaItemRegistration))
        assert (link.status, link.version, item.status, item.version) == ("Attended", 2, "Cancelled", 2)


@pytest.mark.parametrize("kwargs, field, reason", [
    ({"type": REGISTRATION_STATUS_CHANGED, "status": "Bogus"}, "status", "'Bogus' is not a registration status of event EV1"),
    ({"type": SESSION_STATUS_CHANGED, "status": "Checked In", "subject_code": "S101"}, "status", "is not one of: Registered"),
    ({"type": AGENDA_ITEM_STATUS_CHANGED, "status": "Attended", "subject_code": "D1"}, "status", "is not one of"),
    ({"type": SESSION_STATUS_CHANGED, "status": "Attended", "subject_code": "S999"}, "subject", "no session 'S999'"),
    ({"type": SESSION_STATUS_CHANGED, "status": "Attended"}, "subject", "names its subject"),
    ({"type": "nope", "status": "Attended"}, "type", "is not one of"),
])
def test_bad_changes_are_refused_with_field_and_reason_and_write_nothing(factory, world, kwargs, field, reason):
    with pytest.raises(StatusChangeRejected) as caught:
        _change(factory, world, **kwargs)
    assert caught.value.field == field and reason in caught.value.reason
    events, outbox = _rows(factory)
    assert (events, outbox) == ([], [])


def test_only_the_event_platform_may_add_a_session(factory, world):
    with factory() as s, s.begin():
        s.add(EventSession(event_id=world["event"], session_code="S102", title="Panel"))
    with pytest.raises(StatusChangeRejected, match="has not taken session 'S102'"):
        _change(factory, world, type=SESSION_STATUS_CHANGED, status="Registered", subject_code="S102")
    added = _change(factory, world, type=SESSION_STATUS_CHANGED, status="Registered", subject_code="S102",
                    add_missing_subject=True)
    assert added.changed and added.previous is None
    events, _ = _rows(factory)
    assert events[0].payload["previous"] is None


def test_a_failed_commit_keeps_neither_the_change_nor_its_event(factory, world):
    with pytest.raises(RuntimeError):
        with transaction(factory) as s:
            change_status(s, account_code="ACME", event=s.get(Event, world["event"]),
                          registration=s.get(Registration, world["reg"]), actor=ACTOR,
                          type=REGISTRATION_STATUS_CHANGED, status="Cancelled")
            raise RuntimeError("the request failed after the change")
    with factory() as s:
        assert s.get(Registration, world["reg"]).status_label == "New"
        assert s.scalar(select(func.count()).select_from(StatusChangeEvent)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0


def test_ingestion_uses_the_same_writer_and_answers_unchanged(factory, world):
    sent = {"id": "evt_1", "type": REGISTRATION_STATUS_CHANGED, "occurred_at": "2026-06-09T09:30:00Z",
            "account_code": "ACME", "event_code": "EV1", "registration_code": "R1", "current": {"status": "New"}}
    with transaction(factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == "ACME"))
        results = ingest(s, account, [sent, {**sent, "id": "evt_2", "current": {"status": "Attended"}}])
    assert [r.status for r in results] == ["unchanged", "accepted"]
    events, outbox = _rows(factory)
    assert [e.id for e in events] == [o.message_id for o in outbox] == [results[1].recorded_as]
    assert _received(factory) == {("ACME", "evt_1"): ("unchanged", None), ("ACME", "evt_2"): ("accepted", events[0].id)}


def test_a_batch_of_registration_changes_goes_in_order_and_a_bad_one_writes_nothing(factory, world):
    with transaction(factory) as s:
        event = s.get(Event, world["event"])
        profile = Profile(account_id=event.account_id, pin="P2", email="bo@acme.test", custom={}, external_ids={})
        s.add(profile)
        s.flush()
        other = Registration(event_id=event.id, profile_id=profile.id, registration_code="R2",
                             attendee_type_code="Attendee", status_label="New", external_ids={}, version=1)
        s.add(other)
        s.flush()
        first, second = world["reg"], other.id
        outcomes = change_registration_statuses(s, account_code="ACME", event=event, changes=[
            RegistrationChange(first, "Attended", ACTOR),
            RegistrationChange(second, "Bogus", ACTOR),
            RegistrationChange(second, "Attended", {"type": "api", "id": None}, event_id="evt_sent"),
            RegistrationChange(first, "Cancelled", ACTOR),
            RegistrationChange(second, "Attended", ACTOR),
            RegistrationChange(first + second + 1, "Attended", ACTOR),
        ])
    made, bad, sent, again, unchanged, missing = outcomes
    assert (made.previous, made.current, made.version) == ("New", "Attended", 4)
    assert isinstance(bad, StatusChangeRejected) and (bad.field, bad.reason) == (
        "status", "'Bogus' is not a registration status of event EV1")
    assert (sent.event_id, sent.version) == ("evt_sent", 2)
    assert (again.previous, again.current, again.version) == ("Attended", "Cancelled", 5)
    assert isinstance(unchanged, Outcome) and not unchanged.changed
    assert isinstance(missing, StatusChangeRejected) and missing.field == "registration"
    events, outbox = _rows(factory)
    by_id = {e.id: e.payload for e in events}
    assert by_id[again.event_id]["previous"] == {"status": "Attended", "classification": "accepted"}
    assert by_id[again.event_id]["current"] == {"status": "Cancelled", "classification": "cancelled"}
    assert by_id[again.event_id]["registration_version"] == 5 and by_id[again.event_id]["actor"] == ACTOR
    assert by_id["evt_sent"]["actor"] == {"type": "api", "id": None}
    assert [o.message_id for o in outbox] == [made.event_id, "evt_sent", again.event_id]  # the batch's order
    with factory() as s:
        assert [(r.status_label, r.version) for r in s.scalars(select(Registration).order_by(Registration.id))] == [
            ("Cancelled", 5), ("Attended", 2)]


def test_ingestion_keeps_the_order_of_mixed_changes_and_spots_a_resent_id_in_the_same_batch(factory, world):
    def sent(id, **fields):
        return {"id": id, "type": REGISTRATION_STATUS_CHANGED, "occurred_at": "2026-06-09T09:30:00Z",
                "account_code": "ACME", "event_code": "EV1", "registration_code": "R1", **fields}

    with transaction(factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == "ACME"))
        results = ingest(s, account, [
            sent("evt_a", current={"status": "Attended"}),
            sent("evt_b", type=SESSION_STATUS_CHANGED, subject={"kind": "session", "code": "S101"},
                 current={"status": "Attended"}),
            sent("evt_c", current={"status": "Cancelled"}),
            sent("evt_a", current={"status": "Attended"}),
            sent("evt_d", current={"status": "Bogus"}),
            sent("evt_e", registration_code="R404", current={"status": "Attended"}),
        ])
    assert [(r.id, r.status) for r in results] == [
        ("evt_a", "accepted"), ("evt_b", "accepted"), ("evt_c", "accepted"), ("evt_a", "duplicate"),
        ("evt_d", "rejected"), ("evt_e", "rejected")]
    assert results[4].errors == {"current": ["'Bogus' is not a registration status of event EV1"]}
    assert results[5].errors == {"registration_code": ["no registration 'R404' in event EV1"]}
    events, outbox = _rows(factory)
    recorded = {event_id: source_id for (_, source_id), (_, event_id) in _received(factory).items()}
    assert [(recorded[e.id], e.registration_version) for e in events] == [("evt_a", 4), ("evt_b", 5), ("evt_c", 6)]
    assert [recorded[o.message_id] for o in outbox] == ["evt_a", "evt_b", "evt_c"]
    assert set(recorded.values()) == {"evt_a", "evt_b", "evt_c"}  # the rejected ones are not remembered


T1 = datetime(2026, 6, 9, 9, 30, tzinfo=timezone.utc)
T2 = T1 + timedelta(minutes=5)


def _sent(id, status, at=T1, **fields):
    return {"id": id, "type": REGISTRATION_STATUS_CHANGED, "occurred_at": at.isoformat(), "account_code": "ACME",
            "event_code": "EV1", "registration_code": "R1", "current": {"status": status}, **fields}


def _ingest(factory, events):
    with transaction(factory) as s:
        return ingest(s, s.scalar(select(Account).where(Account.account_code == "ACME")), events)


def test_an_older_change_is_stale_in_a_batch_and_the_newest_time_is_kept(factory, world):
    with transaction(factory) as s:
        outcomes = change_registration_statuses(s, account_code="ACME", event=s.get(Event, world["event"]), changes=[
            RegistrationChange(world["reg"], "Cancelled", ACTOR, occurred_at=T2),
            RegistrationChange(world["reg"], "Attended", ACTOR, occurred_at=T1),
            RegistrationChange(world["reg"], "Cancelled", ACTOR, occurred_at=T1),
        ])
    applied, stale, same = outcomes
    assert applied.changed and not applied.stale
    assert stale.stale and not stale.changed and (stale.previous, stale.current) == ("Cancelled", "Cancelled")
    assert not same.changed and not same.stale  # the status it has: unchanged, whatever its time
    with factory() as s:
        reg = s.get(Registration, world["reg"])
        assert (reg.status_label, reg.version, reg.status_changed_at) == ("Cancelled", 4, T2)
    assert len(_rows(factory)[0]) == 1


def test_the_admins_change_counts_as_now_so_an_older_event_is_stale(factory, world):
    before = datetime.now(timezone.utc)
    _change(factory, world, type=REGISTRATION_STATUS_CHANGED, status="Cancelled")
    with factory() as s:
        assert s.get(Registration, world["reg"]).status_changed_at >= before.replace(microsecond=0)
    [late] = _ingest(factory, [_sent("evt_late", "Attended", at=before - timedelta(minutes=1))])
    assert late.status == "stale"
    with factory() as s:
        assert s.get(Registration, world["reg"]).status_label == "Cancelled"
    assert _received(factory) == {("ACME", "evt_late"): ("stale", None)}


def test_a_session_or_agenda_item_change_older_than_the_last_is_stale(factory, world):
    _change(factory, world, type=SESSION_STATUS_CHANGED, status="Attended", subject_code="S101", occurred_at=T2)
    late = _change(factory, world, type=SESSION_STATUS_CHANGED, status="Cancelled", subject_code="S101",
                   occurred_at=T1)
    assert late.stale and late.current == "Attended"
    # the registration's own status and the agenda item are other subjects: not stale
    assert _change(factory, world, type=AGENDA_ITEM_STATUS_CHANGED, status="Cancelled", subject_code="D1",
                   occurred_at=T1).changed
    assert _change(factory, world, type=REGISTRATION_STATUS_CHANGED, status="Attended", occurred_at=T1).changed
    with factory() as s:
        link = s.scalar(select(SessionRegistration))
        assert (link.status, link.status_changed_at) == ("Attended", T2)


def test_an_unchanged_id_is_remembered_so_its_replay_cannot_undo_a_later_change(factory, world):
    assert [r.status for r in _ingest(factory, [_sent("evt_1", "Attended"), _sent("evt_2", "Attended")])] == [
        "accepted", "unchanged"]
    assert _ingest(factory, [_sent("evt_3", "Cancelled", at=T2)])[0].status == "accepted"
    assert [r.status for r in _ingest(factory, [_sent("evt_2", "Attended"), _sent("evt_9", "Attended")])] == [
        "duplicate", "stale"]
    with factory() as s:
        assert s.get(Registration, world["reg"]).status_label == "Cancelled"


def test_a_rejected_id_is_not_remembered_and_applies_once_its_cause_is_fixed(factory, world):
    [missing] = _ingest(factory, [_sent("evt_new", "Attended", registration_code="R2")])
    assert missing.status == "rejected" and _received(factory) == {}
    with transaction(factory) as s:
        event = s.get(Event, world["event"])
        profile = Profile(account_id=event.account_id, pin="P2", email="bo@acme.test", custom={}, external_ids={})
        s.add(profile)
        s.flush()
        s.add(Registration(event_id=event.id, profile_id=profile.id, registration_code="R2",
                           attendee_type_code="Attendee", status_label="New", external_ids={}, version=1))
    assert _ingest(factory, [_sent("evt_new", "Attended", registration_code="R2")])[0].status == "accepted"


def test_the_same_id_from_two_accounts_is_two_changes(factory, world):
    with transaction(factory) as s:
        other = get_or_create_account(s, "OTHER", "Other")
        event = get_or_create_event(s, other, "OEV", "Other Event")
        profile = Profile(account_id=other.id, pin="P9", email="oz@other.test", custom={}, external_ids={})
        s.add(profile)
        s.flush()
        s.add(Registration(event_id=event.id, profile_id=profile.id, registration_code="R1",
                           attendee_type_code="Attendee", status_label="New", external_ids={}, version=1))
    assert _ingest(factory, [_sent("evt_X", "Attended")])[0].status == "accepted"
    with transaction(factory) as s:
        [theirs] = ingest(s, s.scalar(select(Account).where(Account.account_code == "OTHER")), [
            _sent("evt_X", "Attended", account_code="OTHER", event_code="OEV")])
    assert theirs.status == "accepted"
    received = _received(factory)
    assert set(received) == {("ACME", "evt_X"), ("OTHER", "evt_X")}
    assert received["ACME", "evt_X"][1] != received["OTHER", "evt_X"][1]
    assert len(_rows(factory)[0]) == 2


@pytest.mark.parametrize("hostile, field", [
    ({"registration_code": "R1\x00"}, "registration_code"),
    ({"event_code": "\x00"}, "event_code"),
    ({"id": "evt_\x00"}, "id"),
    ({"current": {"status": "Attended\x00"}}, "current.status"),
    ({"actor": {"type": "api", "id": "a\x00"}}, "actor"),
    ({"actor": {"type": "api", "na\x00me": "a"}}, "actor"),
    ({"registration_code": "R\ud800"}, "registration_code"),
    ({"actor": {"type": "api", "id": "\udfff"}}, "actor"),
    ({"actor": {"type": "api", "id": {"deeper": {"still": 1}}}}, "actor"),
    ({"type": SESSION_STATUS_CHANGED, "subject": {"kind": "session", "code": "S1\x00"}}, "subject.code"),
    ({"registration_code": 2 ** 40}, "registration_code"),
    ({"id": 2 ** 70}, "id"),
    ({"actor": {"type": "api", "id": 2 ** 70}}, "actor"),
    ({"actor": {"type": "api", "id": float("nan")}}, "actor"),
    ({"registration_code": "R" * 10_000}, "registration_code"),
    ({"current": {"status": "x" * 101}}, "current.status"),
    ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
    ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
])
def test_a_hostile_event_is_rejected_alone_and_the_batch_goes_on(factory, world, hostile, field):
    """On PostgreSQL a NUL in any string the batch queries with used to fail the whole batch."""
    results = _ingest(factory, [_sent("evt_ok", "Attended"), {**_sent("evt_bad", "Cancelled"), **hostile}])
    assert results[0].status == "accepted"
    assert results[1].status == "rejected" and field in results[1].errors, results[1].errors
    with factory() as s:
        assert s.get(Registration, world["reg"]).status_label == "Attended"
    assert list(_received(factory)) == [("ACME", "evt_ok")]


def test_an_actor_with_numbers_that_fit_is_kept(factory, world):
    actor = {"type": "user", "id": 2 ** 40}
    assert _ingest(factory, [_sent("evt_1", "Attended", actor=actor)])[0].status == "accepted"
    assert _rows(factory)[0][0].payload["actor"] == actor


def _wait_for_a_lock_wait(factory, timeout=10.0):
    """PostgreSQL: until some session waits for a row lock (the second request, on the first's)."""
    deadline = time.monotonic() + timeout
    with factory() as s:
        while time.monotonic() < deadline:
            if s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")):
                return
            s.rollback()
            time.sleep(0.01)
    raise AssertionError("the second request never waited for the first")


def test_two_requests_sending_the_same_new_id_at_once_apply_it_once(factory, world):
    """Both read the id as unknown; on PostgreSQL the second breaks the unique (account, id) when
    it writes, is rolled back and applied again: then it is a duplicate. (SQLite takes the write
    lock when the transaction begins, so the second starts after the first.)"""
    first = factory()
    assert ingest(first, first.scalar(select(Account)), [_sent("evt_1", "Attended")])[0].status == "accepted"
    answers = []

    def second():
        with factory() as s:
            answers.extend(ingest_and_commit(s, s.scalar(select(Account)), [
                _sent("evt_1", "Attended"), _sent("evt_2", "Cancelled", at=T2)]))

    thread = threading.Thread(target=second)
    thread.start()
    if first.bind.dialect.name == "postgresql":
        _wait_for_a_lock_wait(factory)
    first.commit()
    first.close()
    thread.join(30)
    assert [(r.id, r.status) for r in answers] == [("evt_1", "duplicate"), ("evt_2", "accepted")]
    assert len(_rows(factory)[0]) == 2 and set(_received(factory)) == {("ACME", "evt_1"), ("ACME", "evt_2")}
