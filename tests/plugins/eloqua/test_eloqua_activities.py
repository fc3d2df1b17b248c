"""The three "Create Eloqua Activity upon … Status Change" jobs against the sandbox, through the
core's delivery ledger: each change becomes exactly one external activity, whatever crashes,
redeliveries and outages happen on the way; a job whose parameters Eloqua does not know is
disabled before it receives anything."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from connectors.jobs.submit import SubmitError

from connectors.db import transaction
from connectors.jobs import deliveries
from connectors.jobs.submit import set_enabled
from connectors.models import Delivery, Job, utcnow
from connectors_eloqua.jobs.common import CONTACT_ID_SYSTEM
from connectors_eloqua.sandbox import DRAFT_CAMPAIGN, SUMMIT_CAMPAIGN

from .activity_support import (
    AGENDA, CREATE_ACTIVITY, REG, SESSION, SUBJECTS, accepted_job, attendee, change, deliver, delivery, job, job_of, plan, profile_ids,
)
from .support import pod_calls

CONTACT_SEARCH = r"(?i)/api/rest/1\.0/data/contacts"
AT = datetime(2026, 6, 9, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def person(sandbox):
    return sandbox.all_contacts()[3]


def test_a_registration_change_creates_one_activity_with_the_right_fields(harness, sandbox, person):
    job_id = accepted_job(harness, campaign_id=SUMMIT_CAMPAIGN)
    assert job(harness, job_id).validation_state == "valid"
    code = attendee(harness, person["C_EmailAddress"].upper())  # the e-mail search ignores case
    [delivery_id] = plan(harness, change(harness, code, "Attended", at=AT))
    assert deliver(harness, delivery_id) == "sent"
    [activity] = sandbox.all_activities()
    assert {k: activity[k] for k in ("contactId", "activityType", "assetType", "assetName", "campaignId",
                                     "activityDate", "name")} == {
        "contactId": str(person["id"]), "activityType": "Attended", "assetType": "Certain Event",
        "assetName": "Test event", "campaignId": str(SUMMIT_CAMPAIGN), "activityDate": str(int(AT.timestamp())),
        "name": "Test event - Attended"}
    assert delivery(harness, delivery_id).remote_id == activity["id"]
    assert profile_ids(harness, code)[CONTACT_ID_SYSTEM] == str(person["id"])  # kept: no search next time
    searches = len(pod_calls(sandbox, "GET", CONTACT_SEARCH))
    [second] = plan(harness, change(harness, code, "Cancelled", at=AT + timedelta(hours=1)))
    assert deliver(harness, second) == "sent"
    assert len(pod_calls(sandbox, "GET", CONTACT_SEARCH)) == searches
    assert [a["activityType"] for a in sandbox.all_activities()] == ["Attended", "Cancelled"]


@pytest.mark.parametrize("key", [SESSION, AGENDA])
def test_session_and_agenda_item_changes_name_their_subject(harness, sandbox, person, key):
    accepted_job(harness, key, asset_name_template="{event_code}: {%s}" % ("session_name" if key == SESSION else "item_name"))
    code = attendee(harness, person["C_EmailAddress"])
    [delivery_id] = plan(harness, change(harness, code, "Registered", kind=key, at=AT))
    assert plan(harness, change(harness, code, "New", at=AT)) == []  # a registration change is not theirs
    assert deliver(harness, delivery_id) == "sent"
    [activity] = sandbox.all_activities()
    assert activity["assetName"] == f"TEST26: {SUBJECTS[key]['name']}"
    assert activity["assetType"] == ("Certain Session" if key == SESSION else "Certain Agenda Item")
    assert activity["activityType"] == "Registered" and "campaignId" not in activity


def test_the_status_filter_and_unmapped_statuses_leave_changes_alone(harness, sandbox, person):
    filtered = accepted_job(harness, status_filter=["Attended"])
    mapped_only = accepted_job(harness, status_activities=["Attended = Attended"])
    code = attendee(harness, person["C_EmailAddress"])
    cancelled = plan(harness, change(harness, code, "Cancelled", at=AT))
    with harness.factory() as s:
        assert [s.get(Delivery, d).job_id for d in cancelled] == [mapped_only]  # the filter planned nothing
    assert deliver(harness, cancelled[0]) == "sent" and delivery(harness, cancelled[0]).remote_id is None
    assert sandbox.all_activities() == [] and pod_calls(sandbox, "POST", CREATE_ACTIVITY) == []
    attended = plan(harness, change(harness, code, "Attended", at=AT))
    assert sorted(deliver(harness, d) for d in attended) == ["sent", "sent"]
    assert [a["activityType"] for a in sandbox.all_activities()] == ["Attended", "Attended"]
    assert filtered != mapped_only


def test_a_duplicate_delivery_creates_one_activity(harness, sandbox, person):
    accepted_job(harness)
    code = attendee(harness, person["C_EmailAddress"])
    event_id = change(harness, code, "Attended", at=AT)
    [delivery_id] = plan(harness, event_id)
    assert plan(harness, event_id) == []  # the message came twice: nothing new planned
    assert deliver(harness, delivery_id, "w1") == "sent"
    assert deliver(harness, delivery_id, "w2") == "skipped"
    assert len(sandbox.all_activities()) == 1


def _die_holding(h, delivery_id: int) -> None:
    """A dispatcher claimed the row and died (its lease ran out)."""
    with transaction(h.factory) as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            state="sending", worker="dead", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))


def test_a_dispatcher_killed_before_sending_leaves_it_sent_once(harness, sandbox, person):
    accepted_job(harness)
    code = attendee(harness, person["C_EmailAddress"])
    [delivery_id] = plan(harness, change(harness, code, "Attended", at=AT))
    _die_holding(harness, delivery_id)
    assert deliveries.settle_interrupted(harness.factory, harness.registry, harness.box) == {delivery_id: "pending"}
    assert deliver(harness, delivery_id, "w2") == "sent"
    assert len(sandbox.all_activities()) == 1 and len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == 1


def test_a_dispatcher_killed_after_sending_is_settled_by_verify_without_a_second_send(harness, sandbox, person):
    job_id = accepted_job(harness)
    code = attendee(harness, person["C_EmailAddress"])
    event_id = change(harness, code, "Attended", at=AT)
    [delivery_id] = plan(harness, event_id)
    with harness.factory() as s:  # what the dead dispatcher did: the activity reached Eloqua ...
        jt = harness.registry.job_type(REG)
        ctx = deliveries._context(s, harness.box, deliveries._claimed(s, delivery_id), harness.factory)
        jt.on_event(ctx, jt.params_schema().load(s.get(Job, job_id).params), harness.status_events()[-1])
    _die_holding(harness, delivery_id)  # ... and it died before recording it
    assert deliveries.settle_interrupted(harness.factory, harness.registry, harness.box) == {delivery_id: "sent"}
    assert deliver(harness, delivery_id, "w2") == "skipped"
    assert len(sandbox.all_activities()) == 1 and len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == 1


def _due_now(h, delivery_id: int) -> None:
    """Time passes: the failed delivery's retry time has come."""
    with transaction(h.factory) as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(next_attempt_at=utcnow()))


@pytest.mark.parametrize("happened", [False, True], ids=["lost-before", "answer-lost"])
def test_eloqua_down_for_a_while_then_back_loses_and_doubles_nothing(harness, sandbox, person, happened):
    accepted_job(harness)
    code = attendee(harness, person["C_EmailAddress"])
    [delivery_id] = plan(harness, change(harness, code, "Attended", at=AT))
    sandbox.fail_next(500, 503)  # Eloqua down: every call answers 503
    for _ in range(2):  # nothing was sent (the contact search failed): retried later, still down
        assert deliver(harness, delivery_id) == "failed"
        assert delivery(harness, delivery_id).next_attempt_at > utcnow()
        _due_now(harness, delivery_id)
    sandbox.clear_faults()  # back, but the create's answer is lost and the checks fail a while longer
    sandbox.fail_next(1, 503, after_effect=happened, path=CREATE_ACTIVITY)
    sandbox.fail_next(500, 503, path=r"(?i)/api/bulk/.*")
    assert deliver(harness, delivery_id) == "uncertain"  # it may have happened: never resent blindly
    later = utcnow()
    for _ in range(3):  # verifying keeps failing: asked again, later and later
        later += timedelta(hours=2)
        assert deliveries.settle_interrupted(harness.factory, harness.registry, harness.box, now=later) == \
            {delivery_id: "uncertain"}
    row = delivery(harness, delivery_id)
    assert row.next_attempt_at > utcnow() and "could not verify yet" in row.last_error
    sandbox.clear_faults()  # all of Eloqua is back
    settled = deliveries.settle_interrupted(harness.factory, harness.registry, harness.box, now=later + timedelta(hours=2))
    assert settled == {delivery_id: "sent" if happened else "pending"}
    if not happened:
        assert deliver(harness, delivery_id) == "sent"
    assert len(sandbox.all_activities()) == 1
    assert delivery(harness, delivery_id).state == "sent"
    assert len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == (1 if happened else 2)


def test_a_contact_missing_in_eloqua_is_created_only_when_the_job_says_so(harness, sandbox):
    strict = accepted_job(harness)
    creating = accepted_job(harness, create_missing_contacts=True)
    code = attendee(harness, "new.person@example.com", first="Nova")
    planned = {delivery(harness, d).job_id: d for d in plan(harness, change(harness, code, "Attended", at=AT))}
    assert deliver(harness, planned[strict]) == "parked"
    assert "no Eloqua contact" in delivery(harness, planned[strict]).last_error
    assert deliver(harness, planned[creating]) == "sent"
    contact = sandbox.find_contact("new.person@example.com")
    assert contact["C_FirstName"] == "Nova"
    assert [a["contactId"] for a in sandbox.all_activities()] == [str(contact["id"])]
    with transaction(harness.factory) as s:  # an administrator retries the parked one: the contact exists now
        assert deliveries.retry(s, s.get(Delivery, planned[strict]))
    assert deliver(harness, planned[strict]) == "sent"
    assert len(sandbox.all_activities()) == 2


@pytest.mark.parametrize("params,reason", [
    ({"asset_type": "Tradeshow"}, "the external asset type 'Tradeshow' does not exist in Eloqua"),
    ({"status_activities": ["Attended = Danced"]}, "the activity type(s) 'Danced' do not exist under the asset type"),
    ({"campaign_id": 4242}, "campaign 4242 does not exist in Eloqua"),
    ({"campaign_id": DRAFT_CAMPAIGN}, f"campaign {DRAFT_CAMPAIGN} (SUMMIT26 Follow-up (draft)) is Draft, not active"),
    ({"status_activities": ["Checked In = Attended"]}, "'Checked In' is not among the statuses"),
])
def test_a_job_eloqua_does_not_know_is_disabled_with_a_clear_message(harness, sandbox, person, params, reason):
    result = harness.run(REG, params)
    assert result.status == "failed" and reason in result.error
    found = job(harness, job_of(harness, result.run_id))
    assert not found.enabled and found.validation_state == "failed" and reason in found.validation_message
    assert found.state == "disabled"
    code = attendee(harness, person["C_EmailAddress"])
    assert plan(harness, change(harness, code, "Attended", at=AT)) == []  # it receives nothing
    assert pod_calls(sandbox, "POST", CREATE_ACTIVITY) == []


def test_changes_made_before_the_job_was_accepted_are_caught_up(harness, sandbox, person):
    """Submitted, not yet checked: the change waits; the check accepts it and plans the change."""
    run_id = harness.submit(REG, {})
    code = attendee(harness, person["C_EmailAddress"])
    event_id = change(harness, code, "Attended", at=utcnow() + timedelta(seconds=1))
    assert plan(harness, event_id) == []  # not accepted yet
    assert harness.execute(run_id).status == "succeeded"
    [pending] = deliveries.due(harness.factory)
    assert deliver(harness, pending) == "sent" and len(sandbox.all_activities()) == 1


def test_enabling_a_refused_job_checks_it_again(harness, sandbox):
    result = harness.run(REG, {"asset_type": "Tradeshow"})
    job_id = job_of(harness, result.run_id)
    sandbox.add_asset_type("Tradeshow", ["Registered", "Attended", "Cancelled", "No Show"])
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), True)
    with harness.factory() as s:
        found = s.get(Job, job_id)
        queued = [r for r in found.runs if r.status == "queued"]
        assert found.validation_state == "pending" and [r.trigger for r in queued] == ["validate"]
    assert harness.execute(queued[0].id).status == "succeeded"
    assert job(harness, job_id).validation_state == "valid"


def test_a_run_catches_up_and_lists_what_waits_for_an_administrator(harness, sandbox, person):
    job_id = accepted_job(harness)
    code = attendee(harness, person["C_EmailAddress"])
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), False)
    missed = change(harness, code, "Attended", at=utcnow() + timedelta(seconds=1))
    parked_event = change(harness, code, "Cancelled", at=utcnow() + timedelta(seconds=2))
    assert plan(harness, missed) == []  # disabled meanwhile
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), True)
    with harness.factory() as s:
        run_id = [r for r in s.get(Job, job_id).runs][0].id
    rerun = harness.rerun(run_id)
    assert rerun.status == "succeeded"
    pending = deliveries.due(harness.factory)
    assert len(pending) == 2
    with transaction(harness.factory) as s:
        s.execute(update(Delivery).where(Delivery.event_id == parked_event).values(state="parked", last_error="ELQ-1: no"))
    assert deliver(harness, min(pending)) == "sent"
    again = harness.rerun(rerun.run_id)
    assert [(r["key"], r["code"], r["message"]) for r in again.records] == [(parked_event, "parked", "ELQ-1: no")]
    assert any("deliveries by state: parked 1, sent 1" in line["message"] for line in again.log)


@pytest.mark.parametrize("params,field,reason", [
    ({"status_activities": "Attended"}, "params.status_activities", "write 'Status = Activity type'"),
    ({"status_activities": ["Attended = A", "Attended = B"]}, "params.status_activities", "mapped twice"),
    ({"asset_name_template": "{event_name} {room}"}, "params.asset_name_template", "unknown placeholder {room}"),
    ({"status_filter": ["Nope"]}, "params.status_filter", "'Nope' is not among the event's registration statuses"),
])
def test_bad_parameters_are_refused_on_submit_naming_the_field(harness, params, field, reason):
    with pytest.raises(SubmitError) as refused:
        harness.submit(REG, params)
    assert reason in " ".join(refused.value.messages[field])


def test_the_form_lines_are_read_as_the_mapping(harness, sandbox):
    """What the New Job form sends: one 'Status = Activity type' a line, in one text."""
    job_id = accepted_job(harness, SESSION, status_activities="Attended = Attended\n\nNo Show=No Show\n")
    assert job(harness, job_id).params["status_activities"] == ["Attended = Attended", "No Show = No Show"]
