"""Create or Update Leads in Marketo, run end to end against the sandbox (spec §8.3)."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import delete

from connectors.db import transaction
from connectors.jobs.submit import SubmitError
from connectors.models import RegistrationStatus
from connectors_marketo.jobs.create_update_leads import KEY

from .outbound_support import ATTENDEES, edit_registration, registrations_by_email, sent, sync_calls

SYNC = r"/rest/v1/leads\.json"


@pytest.fixture
def harness(programme_harness):
    return programme_harness


def test_creates_one_lead_per_registration_in_chunks_of_300(harness, sandbox):
    before = len(sandbox.leads)
    result = harness.run(KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    assert len(sandbox.leads) == before + ATTENDEES
    calls = sync_calls(sandbox)
    assert [len(c.body["input"]) for c in calls] == [300, 20]
    assert {(c.body["action"], c.body["lookupField"]) for c in calls} == {("createOrUpdate", "email")}
    registrations = registrations_by_email(harness)
    for record in (r for c in calls for r in c.body["input"]):
        assert record["certainAttendeeId"] == registrations[record["email"]]["registration_code"]
    profile = harness.profiles()[0]
    (lead,) = sandbox.find_leads("email", profile["email"])
    assert profile["external_ids"] == {"marketo_lead_id": str(lead["id"])}
    assert (lead["firstName"], lead["lastName"], lead["company"]) == (
        profile["first_name"], profile["last_name"], profile["organization"])
    assert lead["certainAttendeeId"] == registrations[profile["email"]]["registration_code"]


def test_running_again_updates_the_same_leads(harness, sandbox):
    first = harness.run(KEY, {"incremental": False})
    count, mark = len(sandbox.leads), len(sandbox.journal)
    again = harness.rerun(first.run_id)
    assert again.status == "succeeded" and again.counters == {"updated": ATTENDEES}
    assert len(sandbox.leads) == count  # no duplicate lead
    emails = sent(sync_calls(sandbox, mark))
    assert len(emails) == len(set(emails)) == ATTENDEES  # no key in two calls of one run
    assert sandbox.overlapping_upserts() == set()


def test_incremental_runs_send_only_what_changed(harness, sandbox):
    first = harness.run(KEY, {})
    mark = len(sandbox.journal)
    second = harness.rerun(first.run_id)
    assert second.status == "succeeded" and second.counters == {}
    assert sync_calls(sandbox, mark) == []
    some = harness.registrations()[5]
    edit_registration(harness, some["registration_code"], status="Cancelled")
    third = harness.rerun(first.run_id)
    assert third.counters == {"updated": 1}
    assert sent(sync_calls(sandbox, mark)) == [some["email"]]
    other = harness.registrations()[9]
    edit_registration(harness, other["registration_code"], first_name="Renamed")
    fourth = harness.rerun(first.run_id)
    assert fourth.counters == {"updated": 1}
    assert sandbox.find_leads("email", other["email"])[0]["firstName"] == "Renamed"


def test_filters_by_status_and_attendee_type(harness, sandbox):
    wanted = [r for r in harness.registrations() if r["status_label"] == "Attended" and r["attendee_type_code"] == "Attendee"]
    result = harness.run(KEY, {"status_labels": ["Attended"], "attendee_types": ["Attendee"]})
    assert result.counters == {"created": len(wanted)} and 0 < len(wanted) < ATTENDEES
    assert sorted(sent(sync_calls(sandbox))) == sorted(r["email"] for r in wanted)


def test_unknown_status_is_refused_on_submit_and_at_run_time(harness, sandbox):
    with pytest.raises(SubmitError) as refused:  # the form's choices come from the event
        harness.submit(KEY, {"status_labels": ["Attended", "Maybe"]})
    assert "'Maybe' is not among the event's registration statuses" in refused.value.messages["params.status_labels"][0]
    run_id = harness.submit(KEY, {"status_labels": ["Attended"]})
    with transaction(harness.factory) as s:  # the status is gone from the event before a recurring run
        s.execute(delete(RegistrationStatus).where(RegistrationStatus.label == "Attended"))
    result = harness.execute(run_id)
    assert result.status == "failed" and result.error.startswith("unknown_registration_status")
    assert sync_calls(sandbox) == []


def test_registration_without_email_is_skipped(harness, sandbox):
    code = harness.registrations()[0]["registration_code"]
    edit_registration(harness, code, email=None)
    result = harness.run(KEY, {})
    assert result.counters == {"created": ATTENDEES - 1, "skipped": 1}
    (record,) = result.records
    assert record["key"] == code and record["code"] == "missing_email"


def test_duplicate_emails_send_the_last_modified_registration_once(harness, sandbox):
    first, second = harness.registrations()[:2]
    edit_registration(harness, second["registration_code"], email=first["email"].upper())
    edit_registration(harness, first["registration_code"], later=True)  # modified last: its data wins
    result = harness.run(KEY, {})
    assert result.counters == {"created": ATTENDEES - 1, "skipped": 1}
    (record,) = result.records
    assert record["code"] == "duplicate_in_batch" and record["key"].startswith(second["registration_code"])
    assert first["registration_code"] in record["message"]
    (lead,) = sandbox.find_leads("email", first["email"])
    assert lead["certainAttendeeId"] == first["registration_code"]


def test_marketo_rejections_carry_marketo_codes(harness, sandbox):
    people = harness.registrations()
    twice = people[3]["email"]
    sandbox.add_leads([{"email": twice, "firstName": "One"}, {"email": twice, "firstName": "Two"}])
    edit_registration(harness, people[4]["registration_code"], email="zoë@umlaut.example")  # not ASCII
    result = harness.run(KEY, {})
    assert result.status == "partially_failed"
    assert result.counters == {"created": ATTENDEES - 2, "failed": 2}
    codes = {r["key"].split(" ")[0]: (r["code"], r["stage"]) for r in result.records}
    assert codes == {people[3]["registration_code"]: ("1007", "load"), people[4]["registration_code"]: ("1003", "load")}
    assert all(r["message"] for r in result.records)
    assert len(sandbox.find_leads("email", twice)) == 2  # nothing merged or added


def test_read_only_field_in_the_mapping_fails_before_sending(harness, sandbox):
    sandbox.store.fields["title"] = replace(sandbox.store.fields["title"], read_only=True)
    result = harness.run(KEY, {})
    assert result.status == "failed" and result.error.startswith("read_only_field") and "title" in result.error
    assert sandbox.journal.filter("POST", SYNC) == []


@pytest.mark.parametrize("params, code", [
    ({"attendee_id_field": "noSuchField"}, "unknown_field"),
    ({"attendee_id_field": "updatedAt"}, "read_only_field"),
    ({"lookup_field": "externalKey"}, "lookup_not_mapped"),
])
def test_bad_fields_fail_before_sending(harness, sandbox, params, code):
    result = harness.run(KEY, params)
    assert result.status == "failed" and result.error.startswith(code)
    assert sandbox.journal.filter("POST", SYNC) == []


def test_leads_can_be_found_by_attendee_id(harness, sandbox):
    first = harness.run(KEY, {"lookup_field": "certainAttendeeId", "incremental": False})
    assert first.counters == {"created": ATTENDEES}
    assert {c.body["lookupField"] for c in sync_calls(sandbox)} == {"certainAttendeeId"}
    count = len(sandbox.leads)
    assert harness.rerun(first.run_id).counters == {"updated": ATTENDEES} and len(sandbox.leads) == count


def test_partition_and_max_records(harness, sandbox):
    sandbox.add_partition("Europe")
    result = harness.run(KEY, {"partition_name": "Europe", "max_records": 50})
    assert result.counters == {"created": 50}
    (call,) = sync_calls(sandbox)
    assert call.body["partitionName"] == "Europe" and len(call.body["input"]) == 50
    lead = sandbox.find_leads("email", call.body["input"][0]["email"])[0]
    assert sandbox.lead_partition(lead["id"]) == "Europe"


def test_unknown_partition_fails_with_marketo_code(harness, sandbox):
    result = harness.run(KEY, {"partition_name": "Mars"})
    assert result.status == "failed" and result.error.startswith("1003")


def test_a_chunk_retried_after_a_5xx_creates_no_duplicates(harness, sandbox):
    sandbox.fail_next(1, http_status=502, path=SYNC, after=1)
    before = len(sandbox.leads)
    result = harness.run(KEY, {})
    assert result.status == "succeeded" and result.counters == {"created": ATTENDEES}
    assert len(sandbox.leads) == before + ATTENDEES
    assert Counter(c.status for c in sandbox.journal.filter("POST", SYNC)) == {200: 2, 502: 1}


@pytest.mark.parametrize("incremental", [True, False])
def test_quota_exhausted_mid_run_resumes_on_the_next_run(harness, sandbox, incremental):
    sandbox.fail_next(1, code=607, path=SYNC, after=1)  # the second chunk meets the daily quota
    before = len(sandbox.leads)
    stopped = harness.run(KEY, {"incremental": incremental})
    assert stopped.status == "quota_exhausted" and "607" in stopped.error
    assert stopped.counters == {"created": 300} and stopped.checkpoint["sent"] == 300
    resumed = harness.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": ATTENDEES - 300}
    emails = sent(sync_calls(sandbox))
    assert len(emails) == len(set(emails)) == ATTENDEES  # nothing sent twice
    assert len(sandbox.leads) == before + ATTENDEES
    assert all(p["external_ids"].get("marketo_lead_id") for p in harness.profiles())
