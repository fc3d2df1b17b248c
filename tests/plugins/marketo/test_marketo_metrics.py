"""Upload Engagement / Interest Metrics to Marketo, end to end against the sandbox's custom
objects (spec §8.4, §8.5). Expected figures are recomputed here from the tables, not through the
store, so the jobs and the store are checked against each other."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select, update

import connectors_marketo.plugin as plugin
from connectors.db import transaction
from connectors.demo_agenda import seed_programme
from connectors.models import (
    Account, AgendaItemRegistration, Event, Registration, SessionRegistration, Tag, TagPoints,
)
from connectors.testing import Harness
from connectors_marketo.jobs import engagement, interest
from connectors_marketo.sandbox import start_sandbox
from connectors_marketo.sandbox.customobjects import ObjectField, ObjectType

ENGAGEMENT, INTEREST = engagement.KEY, interest.KEY
SYSTEM = ("marketoGUID", "createdAt", "updatedAt")
TYPES = {"attendedEvent": "boolean", "registrationStatus": "string"}


def deploy_engagement_object(sandbox, name=engagement.DEFAULT_OBJECT, dedupe=("attendeeId", "eventCode")):
    """The object as docs/marketo.md tells a Marketo admin to set it up."""
    fields = tuple(ObjectField(f, f, TYPES.get(f, "integer") if f in engagement.METRIC_FIELDS else "string")
                   for f in engagement.DEDUPE_FIELDS + engagement.METRIC_FIELDS)
    sandbox.add_custom_object_type(ObjectType(name, "Certain Engagement", "", tuple(dedupe), "attendeeId",
                                              "certainAttendeeId", fields, "2025-01-06T08:00:00Z"))


def make_harness(tmp_path, sandbox, attendees=40):
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    with transaction(h.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == "TEST"))
        seed_programme(s, account, s.scalar(select(Event).where(Event.event_code == "TEST26")), attendees=attendees)
    return h


def add_leads_for(sandbox, registrations):
    """Marketo leads carrying the registration codes, as Create or Update Leads leaves them."""
    sandbox.add_leads({"email": r["email"], "certainAttendeeId": r["registration_code"]} for r in registrations)


@pytest.fixture
def sandbox():
    sb = start_sandbox()
    deploy_engagement_object(sb)
    yield sb
    sb.stop()


@pytest.fixture
def harness(tmp_path, sandbox):
    h = make_harness(tmp_path, sandbox)
    add_leads_for(sandbox, h.registrations())
    yield h
    h.close()


def expected_engagement(h):
    with h.read_factory() as s:
        regs = s.execute(select(Registration.id, Registration.registration_code, Registration.status_label)).all()
        sessions = Counter(s.execute(select(SessionRegistration.registration_id, SessionRegistration.status)).all())
        items = Counter(s.execute(select(AgendaItemRegistration.registration_id, AgendaItemRegistration.status)).all())
    return {code: {"attendeeId": code, "eventCode": "TEST26",
                   "sessionsRegistered": sum(sessions[(rid, st)] for st in ("Registered", "Attended", "No Show")),
                   "sessionsAttended": sessions[(rid, "Attended")], "sessionsNoShow": sessions[(rid, "No Show")],
                   "sessionsWaitlisted": sessions[(rid, "Waitlisted")], "agendaItemsRegistered": items[(rid, "Registered")],
                   "attendedEvent": status == "Attended", "registrationStatus": status}
            for rid, code, status in regs}


def expected_interest(h, session_statuses=("Registered", "Attended"), agenda_statuses=("Registered",)):
    """{(code, tag): score} for every registration and every account tag."""
    with h.read_factory() as s:
        codes = dict(s.execute(select(Registration.id, Registration.registration_code)).all())
        tags = list(s.scalars(select(Tag.name)))
        points = s.execute(select(TagPoints.session_id, TagPoints.agenda_item_id, Tag.name, TagPoints.points)
                           .join(Tag, Tag.id == TagPoints.tag_id)).all()
        taken = [("s", rid, sid) for rid, sid, st in s.execute(select(
            SessionRegistration.registration_id, SessionRegistration.session_id, SessionRegistration.status)) if st in session_statuses]
        taken += [("a", rid, aid) for rid, aid, st in s.execute(select(
            AgendaItemRegistration.registration_id, AgendaItemRegistration.agenda_item_id, AgendaItemRegistration.status))
            if st in agenda_statuses]
    scores = {(code, tag): 0 for code in codes.values() for tag in tags}
    for kind, rid, target in taken:
        for session_id, item_id, tag, n in points:
            if (session_id if kind == "s" else item_id) == target:
                scores[(codes[rid], tag)] += n
    return scores


def stored(sandbox, name):
    return [{k: v for k, v in r.items() if k not in SYSTEM} for r in sandbox.custom_object_records(name)]


def upserts(sandbox, name):
    return sandbox.journal.filter("POST", rf"/rest/v1/customobjects/{name}\.json")


# -- engagement -------------------------------------------------------------------------------------
def test_engagement_writes_one_exact_record_per_registration(harness, sandbox):
    result = harness.run(ENGAGEMENT, {})
    assert result.status == "succeeded", result.error
    want = expected_engagement(harness)
    records = stored(sandbox, "certainEngagement_c")
    assert {r["attendeeId"]: r for r in records} == want and len(records) == len(want) == 40
    assert result.counters == {"created": 40}
    assert any(r["attendedEvent"] for r in records) and any(r["sessionsNoShow"] for r in records)


def test_rerun_updates_in_place_and_incremental_sends_only_changes(harness, sandbox):
    first = harness.run(ENGAGEMENT, {})
    with transaction(harness.factory) as s:  # one attendee checks in to a session
        sr = s.scalars(select(SessionRegistration).where(SessionRegistration.status == "Registered")).first()
        code = s.get(Registration, sr.registration_id).registration_code
        s.execute(update(SessionRegistration).where(SessionRegistration.id == sr.id).values(status="Attended"))
    again = harness.rerun(first.run_id)
    assert again.counters == {"updated": 1}
    assert stored(sandbox, "certainEngagement_c") and len(stored(sandbox, "certainEngagement_c")) == 40
    assert {r["attendeeId"]: r for r in stored(sandbox, "certainEngagement_c")}[code] == expected_engagement(harness)[code]
    full = harness.run(ENGAGEMENT, {"incremental": False})
    assert full.counters == {"updated": 40} and len(stored(sandbox, "certainEngagement_c")) == 40


def test_registration_statuses_select_what_is_sent(harness, sandbox):
    result = harness.run(ENGAGEMENT, {"status_labels": ["Attended"]})
    records = stored(sandbox, "certainEngagement_c")
    assert result.counters == {"created": len(records)} and records
    assert {r["registrationStatus"] for r in records} == {"Attended"} and all(r["attendedEvent"] for r in records)
    with pytest.raises(Exception) as caught:  # the event's catalogue is checked on submit
        harness.submit(ENGAGEMENT, {"status_labels": ["Atended"]})
    assert "params.status_labels" in str(caught.value) and "'Atended'" in str(caught.value)


def test_lead_without_attendee_id_is_skipped_with_what_to_do(tmp_path, sandbox):
    h = make_harness(tmp_path, sandbox, attendees=5)
    regs = h.registrations()
    add_leads_for(sandbox, regs[1:])
    try:
        result = h.run(ENGAGEMENT, {})
        assert result.status == "succeeded" and result.counters == {"created": 4, "skipped": 1}
        (problem,) = result.records
        assert problem["code"] == "1004" and problem["key"].startswith(regs[0]["registration_code"])
        assert "run Create or Update Leads in Marketo first" in problem["message"]
        assert regs[0]["registration_code"] not in {r["attendeeId"] for r in stored(sandbox, "certainEngagement_c")}
    finally:
        h.close()


def keys_only_object(sandbox):
    sandbox.add_custom_object_type(ObjectType(
        "certainEngagement_c", "Keys only", "", ("attendeeId", "eventCode"), "attendeeId", "certainAttendeeId",
        (ObjectField("attendeeId", "a"), ObjectField("eventCode", "e")), "2025-01-06T08:00:00Z"))


@pytest.mark.parametrize("setup, code", [
    (lambda sb: sb.custom_objects.types.pop("certainEngagement_c"), "custom_object_missing"),
    (lambda sb: deploy_engagement_object(sb, dedupe=("attendeeId",)), "custom_object_dedupe"),
    (keys_only_object, "custom_object_fields"),
])
def test_unusable_custom_object_fails_before_any_upsert(harness, sandbox, setup, code):
    setup(sandbox)
    result = harness.run(ENGAGEMENT, {})
    assert result.status == "failed" and result.error.startswith(code), result.error
    assert "certainEngagement_c" in result.error and upserts(sandbox, "certainEngagement_c") == []
    if code != "custom_object_fields":  # the message says what to set up in Marketo
        assert "attendeeId + eventCode" in result.error and "certainAttendeeId" in result.error


def test_subscription_without_custom_objects_fails_with_the_setup(harness, sandbox):
    sandbox.custom_objects_enabled = False
    result = harness.run(ENGAGEMENT, {})
    assert result.status == "failed" and result.error.startswith("custom_objects_disabled")
    assert "1026" in result.error and upserts(sandbox, "certainEngagement_c") == []


# -- interest ----------------------------------------------------------------------------------------
def interest_records(sandbox):
    return {(r["attendeeId"], r["tag"]): r for r in stored(sandbox, "certainInterest_c")}


def test_interest_writes_every_tag_score_per_registration(harness, sandbox):
    result = harness.run(INTEREST, {})
    assert result.status == "succeeded", result.error
    want = expected_interest(harness)
    records = interest_records(sandbox)
    assert len(stored(sandbox, "certainInterest_c")) == len(want) == 40 * 5
    assert {key: r["score"] for key, r in records.items()} == want
    assert {r["eventCode"] for r in records.values()} == {"TEST26"}
    assert 0 in want.values() and result.counters == {"created": 200}


def test_interest_statuses_that_count_are_parameters(harness, sandbox):
    params = {"session_statuses": ["Attended"], "agenda_statuses": ["Registered", "Waitlisted"]}
    harness.run(INTEREST, params)
    want = expected_interest(harness, ("Attended",), ("Registered", "Waitlisted"))
    assert {key: r["score"] for key, r in interest_records(sandbox).items()} == want


def cancel_everything_of_first_registration(h):
    """Someone cancels every session and agenda item of the first registration; returns its code."""
    with transaction(h.factory) as s:
        reg = s.scalars(select(Registration).order_by(Registration.id)).first()
        for table in (SessionRegistration, AgendaItemRegistration):
            s.execute(update(table).where(table.registration_id == reg.id).values(status="Cancelled"))
        return reg.registration_code


def test_scores_are_replaced_and_dropped_tags_zeroed(harness, sandbox):
    first = harness.run(INTEREST, {})
    code = cancel_everything_of_first_registration(harness)
    before = {tag: r["score"] for (c, tag), r in interest_records(sandbox).items() if c == code}
    dropped = sum(1 for score in before.values() if score)
    assert dropped
    again = harness.rerun(first.run_id)  # incremental: that registration only, its changed scores only
    assert again.counters == {"updated": dropped, "unchanged": 5 - dropped}
    assert {tag: r["score"] for (c, tag), r in interest_records(sandbox).items() if c == code} == dict.fromkeys(before, 0)
    assert len(stored(sandbox, "certainInterest_c")) == 200
    assert {k: r["score"] for k, r in interest_records(sandbox).items()} == expected_interest(harness)
    assert harness.rerun(first.run_id).counters == {}  # nothing changed since: nothing read, nothing sent
    assert len(upserts(sandbox, "certainInterest_c")) == 2


def test_without_zero_out_only_tags_with_points_are_sent(harness, sandbox):
    result = harness.run(INTEREST, {"zero_out": False})
    want = {k: v for k, v in expected_interest(harness).items() if v}
    assert {k: r["score"] for k, r in interest_records(sandbox).items()} == want
    assert result.counters == {"created": len(want)} and len(want) < 200


@pytest.mark.parametrize("incremental", [True, False])
def test_quota_exhausted_mid_upload_resumes_on_the_next_run(tmp_path, incremental):
    sandbox = start_sandbox(daily_quota=3)  # describe + two chunks of 60 registrations x 5 tags
    h = make_harness(tmp_path, sandbox, attendees=150)
    try:
        add_leads_for(sandbox, h.registrations())
        first = h.run(INTEREST, {"incremental": incremental})
        assert first.status == "quota_exhausted" and first.error.startswith("quota_exhausted")
        assert first.checkpoint["done"] == 120 and first.counters == {"created": 600}
        code = cancel_everything_of_first_registration(h)  # a change before the stop point, meanwhile
        sandbox.reset_usage()
        second = h.rerun(first.run_id)
        assert second.status == "succeeded", second.error
        assert len(stored(sandbox, "certainInterest_c")) == 750 == len(interest_records(sandbox))
        assert [call.codes for call in upserts(sandbox, "certainInterest_c")].count(("607",)) == 1
        if incremental:  # walks again from the start; the ledger sends only what is new or changed
            changed = sum(1 for (c, _), r in interest_records(sandbox).items() if c == code and r["score"] == 0)
            assert second.counters["created"] == 150 and second.counters["unchanged"] == 600 - second.counters["updated"]
            assert {k: r["score"] for k, r in interest_records(sandbox).items()} == expected_interest(h)
            assert changed == 5 and len(upserts(sandbox, "certainInterest_c")) == 5
        else:  # goes on after the last committed batch
            assert second.counters == {"created": 150}
            assert any("resuming after 120 registrations" in line["message"] for line in second.log)
            assert len(upserts(sandbox, "certainInterest_c")) == 4  # three chunks taken, one refused
    finally:
        h.close()
        sandbox.stop()


def test_interest_needs_account_tags(tmp_path, sandbox):
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    try:
        result = h.run(INTEREST, {})
        assert result.status == "failed" and result.error.startswith("no_tags")
    finally:
        h.close()


def test_job_types_are_registered_with_their_parameters():
    from connectors.testing import check_plugin_contract

    registry = check_plugin_contract(plugin)
    assert registry.job_types[ENGAGEMENT].label == "Upload Engagement Metrics to Marketo"
    assert registry.job_types[INTEREST].label == "Upload Interest Metrics to Marketo"
    loaded = registry.job_types[INTEREST].params_schema().load({})
    assert loaded == {"custom_object": "certainInterest_c", "session_statuses": ["Registered", "Attended"],
                      "agenda_statuses": ["Registered"], "status_labels": None, "attendee_types": None, "zero_out": True,
                      "incremental": True}
