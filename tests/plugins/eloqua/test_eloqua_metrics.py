"""Upload Engagement / Interest Metrics to Eloqua, end to end against the sandbox (spec §8.4, §8.5):
custom-object imports keyed per registration (and tag), linked to contacts by email."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from connectors.db import transaction
from connectors.models import AgendaItemRegistration, Registration, SessionRegistration, Tag, TagPoints
from connectors_eloqua.client import EloquaClient
from connectors_eloqua.jobs import create_update_contacts, engagement, interest
from connectors_eloqua.sandbox import ENGAGEMENT_OBJECT, INTEREST_OBJECT

from .outbound_support import (
    ATTENDEES, die_on_call, edit_registration, imports, seed_attendees, take_over, uploaded_rows,
)

ENGAGEMENT, INTEREST = engagement.KEY, interest.KEY
CDO_IMPORTS = r"(?i)/api/bulk/2\.0/customObjects/\d+/imports"
CDO_DATA = CDO_IMPORTS + r"/\d+/data"


@pytest.fixture
def harness(harness):
    """The programme's registrations, already sent to Eloqua as contacts."""
    seed_attendees(harness)
    assert harness.run(create_update_contacts.KEY, {}).status == "succeeded"
    return harness


def records(sandbox, name):
    return sandbox.custom_object_records(sandbox.find_custom_object(name))


def by_key(sandbox, name, key_field):
    return {r[key_field]: r for r in records(sandbox, name)}


def session_figures(h):
    """{registration code: (sessions registered, sessions attended)} straight from the tables."""
    with h.read_factory() as s:
        codes = dict(s.execute(select(Registration.id, Registration.registration_code)).all())
        figures = {code: [0, 0] for code in codes.values()}
        for rid, status in s.execute(select(SessionRegistration.registration_id, SessionRegistration.status)):
            figures[codes[rid]][0] += status in ("Registered", "Attended", "No Show")
            figures[codes[rid]][1] += status == "Attended"
    return {code: tuple(v) for code, v in figures.items()}


def expected_interest(h, weights=(("s", "Registered", 1), ("s", "Attended", 2), ("a", "Registered", 1))):
    """{(code, tag): weighted score} for every registration and account tag."""
    with h.read_factory() as s:
        codes = dict(s.execute(select(Registration.id, Registration.registration_code)).all())
        tags = list(s.scalars(select(Tag.name)))
        points = s.execute(select(TagPoints.session_id, TagPoints.agenda_item_id, Tag.name, TagPoints.points)
                           .join(Tag, Tag.id == TagPoints.tag_id)).all()
        taken = [("s", rid, sid, st) for rid, sid, st in s.execute(select(
            SessionRegistration.registration_id, SessionRegistration.session_id, SessionRegistration.status))]
        taken += [("a", rid, aid, st) for rid, aid, st in s.execute(select(
            AgendaItemRegistration.registration_id, AgendaItemRegistration.agenda_item_id,
            AgendaItemRegistration.status))]
    weight = {(kind, status): w for kind, status, w in weights}
    scores = {(code, tag): 0 for code in codes.values() for tag in tags}
    for kind, rid, target, status in taken:
        for session_id, item_id, tag, n in points:
            if (session_id if kind == "s" else item_id) == target:
                scores[(codes[rid], tag)] += weight.get((kind, status), 0) * n
    return scores


def stored_scores(sandbox):
    return {tuple(r["InterestKey"].split(":")[1:]): int(r["Score"]) for r in records(sandbox, INTEREST_OBJECT)}


def cancel_everything_of(h, code):
    with transaction(h.factory) as s:
        rid = s.scalar(select(Registration.id).where(Registration.registration_code == code))
        for table in (SessionRegistration, AgendaItemRegistration):
            s.execute(update(table).where(table.registration_id == rid).values(status="Cancelled"))


# -- engagement -------------------------------------------------------------------------------------------
def test_engagement_writes_one_record_per_registration_linked_to_its_contact(harness, sandbox):
    result = harness.run(ENGAGEMENT, {"batch_size": 50})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    (definition, *more) = imports(sandbox, CDO_IMPORTS)
    assert len(more) == 2  # three batches of at most 50
    assert definition["identifierFieldName"] == "EngagementKey" and definition["updateRule"] == "always"
    assert (definition["mapDataCards"], definition["mapDataCardsEntityType"], definition["mapDataCardsSourceField"],
            definition["mapDataCardsEntityField"]) == (True, "Contact", "EmailAddress", "{{Contact.Field(C_EmailAddress)}}")
    stored = by_key(sandbox, ENGAGEMENT_OBJECT, "EngagementKey")
    assert len(stored) == ATTENDEES
    figures = session_figures(harness)
    contact_ids = {p["email"]: p["external_ids"]["eloqua_contact_id"] for p in harness.profiles()}
    for reg in harness.registrations():
        record = stored[f"TEST26:{reg['registration_code']}"]
        assert str(record["contact_id"]) == contact_ids[reg["email"]] and record["EmailAddress"] == reg["email"]
        assert (int(record["SessionsRegistered"]), int(record["SessionsAttended"])) == figures[reg["registration_code"]]
        assert record["CheckedIn"] == ("Yes" if reg["status_label"] == "Attended" else "No")
        assert (record["RegistrationStatus"], record["AttendeeType"], record["EventName"]) == (
            reg["status_label"], reg["attendee_type_code"], "Test event")


def test_engagement_updates_in_place_and_incremental_runs_send_only_changes(harness, sandbox):
    first = harness.run(ENGAGEMENT, {})
    mark = len(uploaded_rows(sandbox, CDO_DATA))
    assert harness.rerun(first.run_id).counters == {}
    assert len(uploaded_rows(sandbox, CDO_DATA)) == mark
    reg = harness.registrations()[10]
    edit_registration(harness, reg["registration_code"], status="Cancelled")
    changed = harness.rerun(first.run_id)
    assert changed.counters == {"updated": 1}
    assert [r["EngagementKey"] for r in uploaded_rows(sandbox, CDO_DATA)[mark:]] == [f"TEST26:{reg['registration_code']}"]
    assert by_key(sandbox, ENGAGEMENT_OBJECT, "EngagementKey")[f"TEST26:{reg['registration_code']}"][
        "RegistrationStatus"] == "Cancelled"
    everything = harness.run(ENGAGEMENT, {"incremental": False})
    assert everything.counters == {"updated": ATTENDEES}
    assert len(records(sandbox, ENGAGEMENT_OBJECT)) == ATTENDEES  # the same records, replaced


def test_records_with_no_contact_are_named_per_registration_and_linked_later(harness, sandbox):
    reg = harness.registrations()[6]
    edit_registration(harness, reg["registration_code"], email="someone.new@nowhere.example")
    first = harness.run(ENGAGEMENT, {})
    assert first.status == "succeeded", first.error
    assert first.counters == {"created": ATTENDEES - 1, "skipped": 1}
    (skipped,) = first.records
    assert skipped["key"] == f"{reg['registration_code']} <someone.new@nowhere.example>"
    assert skipped["code"] == "no_contact" and "Create or Update Contacts" in skipped["message"]
    record = by_key(sandbox, ENGAGEMENT_OBJECT, "EngagementKey")[f"TEST26:{reg['registration_code']}"]
    assert record["contact_id"] is None  # stored, but not linked
    harness.run(create_update_contacts.KEY, {})  # the contact is made now
    again = harness.rerun(first.run_id)
    assert again.counters == {"updated": 1}
    contact = sandbox.find_contact("someone.new@nowhere.example")
    assert by_key(sandbox, ENGAGEMENT_OBJECT, "EngagementKey")[f"TEST26:{reg['registration_code']}"][
        "contact_id"] == contact["id"]


def test_the_custom_object_is_checked_before_anything_is_sent(harness, sandbox):
    missing = harness.run(ENGAGEMENT, {"custom_object": "No Such Object"})
    assert missing.status == "failed" and "no custom object 'No Such Object'" in missing.error
    assert "EngagementKey" in missing.error  # says what to create
    sandbox.add_custom_object("Thin Engagement", [("Engagement Key", "EngagementKey"), ("Email Address", "EmailAddress")],
                              unique="EngagementKey", email="EmailAddress")
    thin = harness.run(ENGAGEMENT, {"custom_object": "Thin Engagement"})
    assert thin.status == "failed" and "lacks the field(s) EventCode, EventName" in thin.error
    assert imports(sandbox, CDO_IMPORTS) == []
    by_id = harness.run(ENGAGEMENT, {"custom_object": str(sandbox.find_custom_object(ENGAGEMENT_OBJECT))})
    assert by_id.status == "succeeded" and by_id.counters == {"created": ATTENDEES}


def test_rejected_records_are_recorded_on_their_registrations(harness, sandbox):
    sandbox.bulk.faults.reject_rows({5: ("ELQ-00040", "Invalid number.", ("SessionsAttended",))})
    result = harness.run(ENGAGEMENT, {})
    assert result.status == "partially_failed" and result.counters == {"created": ATTENDEES - 1, "failed": 1}
    (failed,) = result.records
    fifth = harness.registrations()[4]
    assert failed["key"] == f"{fifth['registration_code']} <{fifth['email']}>"
    assert failed["code"] == "ELQ-00040" and "SessionsAttended" in failed["message"]
    again = harness.rerun(result.run_id)  # no success yet: every registration is looked at
    assert again.counters == {"created": 1, "unchanged": ATTENDEES - 1}  # only the refused one is sent again


def test_a_worker_dying_while_a_metrics_sync_runs_resumes_that_sync(harness, sandbox, monkeypatch):
    revive = die_on_call(monkeypatch, EloquaClient, "wait_for_sync", 2)
    run_id = harness.submit(ENGAGEMENT, {"batch_size": 50})
    crashed = harness.execute(run_id)
    assert crashed.status == "running" and crashed.counters == {"created": 50} and crashed.checkpoint["pending"]
    revive()
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": ATTENDEES}
    assert len(uploaded_rows(sandbox, CDO_DATA)) == ATTENDEES and len(records(sandbox, ENGAGEMENT_OBJECT)) == ATTENDEES


# -- interest -------------------------------------------------------------------------------------------------
def test_interest_scores_are_weighted_sums_and_zero_tags_are_not_written(harness, sandbox):
    result = harness.run(INTEREST, {})
    assert result.status == "succeeded", result.error
    expected = expected_interest(harness)
    non_zero = {key: score for key, score in expected.items() if score}
    assert result.counters == {"created": len(non_zero)} and 0 < len(non_zero) < len(expected)
    assert stored_scores(sandbox) == non_zero
    (definition,) = imports(sandbox, CDO_IMPORTS)
    assert definition["identifierFieldName"] == "InterestKey" and definition["mapDataCardsSourceField"] == "EmailAddress"
    contact_ids = {p["email"]: p["external_ids"]["eloqua_contact_id"] for p in harness.profiles()}
    assert all(str(r["contact_id"]) == contact_ids[r["EmailAddress"]] for r in records(sandbox, INTEREST_OBJECT))
    weights = {"registered_weight": 0, "attended_weight": 1, "agenda_weight": 3, "incremental": False}
    reweighed = harness.run(INTEREST, weights)
    assert reweighed.status == "succeeded", reweighed.error
    now = expected_interest(harness, (("s", "Attended", 1), ("a", "Registered", 3)))
    assert reweighed.counters == {"updated": sum(1 for v in now.values() if v)}  # a new job: every non-zero key
    stored = stored_scores(sandbox)
    assert all(stored[key] == score for key, score in now.items() if score)


def test_a_score_that_dropped_to_zero_is_reset_and_nothing_else_is_sent(harness, sandbox):
    first = harness.run(INTEREST, {})
    code = harness.registrations()[0]["registration_code"]
    before = {tag: score for (c, tag), score in stored_scores(sandbox).items() if c == code}
    assert before
    mark = len(uploaded_rows(sandbox, CDO_DATA))
    cancel_everything_of(harness, code)
    again = harness.rerun(first.run_id)
    assert again.counters == {"updated": len(before)}
    sent = uploaded_rows(sandbox, CDO_DATA)[mark:]
    assert sorted(r["Tag"] for r in sent) == sorted(before) and {r["Score"] for r in sent} == {0}
    assert {tag: score for (c, tag), score in stored_scores(sandbox).items() if c == code} == dict.fromkeys(before, 0)
    assert harness.rerun(first.run_id).counters == {}  # zeros already sent: unchanged, nothing read


def test_interest_needs_account_tags(harness):
    with transaction(harness.factory) as s:
        s.execute(TagPoints.__table__.delete())
        s.execute(Tag.__table__.delete())
    result = harness.run(INTEREST, {})
    assert result.status == "failed" and "no interest tags" in result.error


def test_a_registration_without_email_is_skipped_by_both_metrics_jobs(harness, sandbox):
    reg = harness.registrations()[2]
    edit_registration(harness, reg["registration_code"], email=None)
    for key in (ENGAGEMENT, INTEREST):
        result = harness.run(key, {})
        assert result.status == "succeeded", result.error
        assert [(r["key"], r["code"]) for r in result.records] == [(reg["registration_code"], "missing_email")]
    assert not any(reg["registration_code"] in r["EngagementKey"] for r in records(sandbox, ENGAGEMENT_OBJECT))
