"""Create or Update Contacts in Eloqua, run end to end against the sandbox (spec §8 job 3, §3)."""
from __future__ import annotations

import pytest

from connectors.jobs.submit import SubmitError
from connectors_eloqua.client import EloquaClient
from connectors_eloqua.jobs.create_update_contacts import KEY
from connectors_eloqua.sandbox.seed import EPOCH

from .outbound_support import (
    ATTENDEES, add_outbound_mapping, die_on_call, edit_registration, imports, registrations_by_email, seed_attendees,
    syncs_started, take_over, uploaded_rows,
)

IMPORTS = r"(?i)/api/bulk/2\.0/contacts/imports"
DATA = IMPORTS + r"/\d+/data"
SYNC_STATUS = r"(?i)/api/bulk/2\.0/syncs/\d+"


@pytest.fixture
def harness(harness):
    seed_attendees(harness)
    return harness


def contact_of(sandbox, email):
    return sandbox.find_contact(email)


def test_creates_contacts_in_batches_and_keeps_their_ids(harness, sandbox):
    before = len(sandbox.all_contacts())
    result = harness.run(KEY, {"batch_size": 50})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    assert len(sandbox.all_contacts()) == before + ATTENDEES
    definitions = imports(sandbox, IMPORTS)
    assert len(definitions) == 3 and len(syncs_started(sandbox)) == 6  # an import and an id export per batch
    assert {d["identifierFieldName"] for d in definitions} == {"C_EmailAddress"}
    assert definitions[0]["fields"]["C_FirstName"] == "{{Contact.Field(C_FirstName)}}" and "syncActions" not in definitions[0]
    rows = uploaded_rows(sandbox, DATA)
    assert [len(rows[i:i + 50]) for i in range(0, len(rows), 50)] == [50, 50, 20]
    assert all(value not in (None, "", "null") for row in rows for value in row.values())  # empties left out
    assert "C_Title" not in rows[0]  # the demo profiles have no position
    for profile in harness.profiles():
        contact = contact_of(sandbox, profile["email"])
        assert profile["external_ids"] == {"eloqua_contact_id": str(contact["id"])}
        assert (contact["C_FirstName"], contact["C_LastName"], contact["C_Company"]) == (
            profile["first_name"], profile["last_name"], profile["organization"])
    assert all(d.deleted for d in sandbox.bulk.definitions.values())  # no definition left behind


def test_existing_contacts_are_updated_and_the_update_rule_is_passed_on(harness, sandbox):
    some = harness.registrations()[3]
    existing = sandbox.add_contact(C_EmailAddress=some["email"].upper(), C_FirstName="Old", C_Title="Keeps its title",
                                   created_at=EPOCH, updated_at=EPOCH)  # a contact Eloqua has had for a while
    result = harness.run(KEY, {"update_rule": "ifNewIsNotNull"})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES - 1, "updated": 1}
    assert {d["updateRule"] for d in imports(sandbox, IMPORTS)} == {"ifNewIsNotNull"}
    contact = sandbox.contact(existing["id"])
    profile = next(p for p in harness.profiles() if p["id"] == some["profile_id"])
    assert contact["C_FirstName"] == profile["first_name"] and contact["C_Title"] == "Keeps its title"
    assert profile["external_ids"] == {"eloqua_contact_id": str(existing["id"])}


def test_rejected_rows_are_recorded_on_their_registrations_and_sent_again(harness, sandbox):
    regs = harness.registrations()
    edit_registration(harness, regs[4]["registration_code"], email="not-an-email")
    sandbox.bulk.faults.reject_rows({2: ("ELQ-00040", "Invalid value.", ("C_Company",))})
    first = harness.run(KEY, {"batch_size": 1000})
    assert first.status == "partially_failed", first.error
    assert first.counters == {"created": ATTENDEES - 2, "failed": 2}
    failed = {r["key"]: r for r in first.records}
    bad = failed[f"{regs[4]['registration_code']} <not-an-email>"]
    assert bad["code"] == "ELQ-00002" and "Invalid email address" in bad["message"] and "C_EmailAddress" in bad["message"]
    forced = failed[f"{regs[1]['registration_code']} <{regs[1]['email']}>"]  # recordIndex 2: the second row
    assert forced["code"] == "ELQ-00040" and "C_Company" in forced["message"] and forced["stage"] == "load"
    assert contact_of(sandbox, regs[1]["email"]) is None
    assert "eloqua_contact_id" not in harness.profiles()[1]["external_ids"]
    again = harness.rerun(first.run_id)  # the failed ones were not marked sent: they go again
    assert again.counters == {"created": 1, "failed": 1}
    assert contact_of(sandbox, regs[1]["email"]) is not None


def test_one_email_twice_sends_the_latest_modified_registration(harness, sandbox):
    a, b = harness.registrations()[:2]
    edit_registration(harness, b["registration_code"], later=True, email=a["email"].upper(), first_name="Latest")
    result = harness.run(KEY, {})
    assert result.counters == {"created": ATTENDEES - 1, "skipped": 1}
    (skipped,) = result.records
    assert skipped["key"] == f"{a['registration_code']} <{a['email']}>" and skipped["code"] == "duplicate_email"
    assert b["registration_code"] in skipped["message"]
    assert contact_of(sandbox, a["email"])["C_FirstName"] == "Latest"
    emails = [row["C_EmailAddress"].lower() for row in uploaded_rows(sandbox, DATA)]
    assert len(emails) == len(set(emails)) == ATTENDEES - 1


def test_running_again_updates_the_same_contacts_and_incremental_sends_only_changes(harness, sandbox):
    first = harness.run(KEY, {})
    count, mark = len(sandbox.all_contacts()), len(uploaded_rows(sandbox, DATA))
    unchanged = harness.rerun(first.run_id)  # incremental: nothing changed since
    assert unchanged.status == "succeeded" and unchanged.counters == {}
    assert len(uploaded_rows(sandbox, DATA)) == mark
    some = harness.registrations()[7]
    edit_registration(harness, some["registration_code"], first_name="Renamed")
    changed = harness.rerun(first.run_id)
    assert changed.counters == {"updated": 1}
    assert [row["C_EmailAddress"] for row in uploaded_rows(sandbox, DATA)[mark:]] == [some["email"]]
    assert contact_of(sandbox, some["email"])["C_FirstName"] == "Renamed"
    everything = harness.run(KEY, {"incremental": False})
    assert everything.counters == {"updated": ATTENDEES}
    assert len(sandbox.all_contacts()) == count  # no duplicate contact


def test_filters_by_status_and_attendee_type(harness, sandbox):
    wanted = [r for r in harness.registrations() if r["status_label"] == "Attended" and r["attendee_type_code"] == "Attendee"]
    result = harness.run(KEY, {"status_labels": ["Attended"], "attendee_types": ["Attendee"]})
    assert result.counters == {"created": len(wanted)} and 0 < len(wanted) < ATTENDEES
    assert sorted(row["C_EmailAddress"] for row in uploaded_rows(sandbox, DATA)) == sorted(r["email"] for r in wanted)
    with pytest.raises(SubmitError) as refused:  # checked on submit against the event's catalogue
        harness.submit(KEY, {"status_labels": ["Nope"]})
    assert "'Nope' is not among the event's registration statuses" in str(refused.value)


def test_adds_every_contact_sent_to_the_chosen_list(harness, sandbox):
    list_id = sandbox.find_list("Newsletter Subscribers")
    members = set(sandbox.list_members(list_id))
    result = harness.run(KEY, {"contact_list": "newsletter subscribers", "batch_size": 70})
    assert result.status == "succeeded", result.error
    assert {a["destination"] for d in imports(sandbox, IMPORTS) for a in d["syncActions"]} == {
        "{{ContactList[%d]}}" % list_id}
    ids = {int(p["external_ids"]["eloqua_contact_id"]) for p in harness.profiles()}
    assert set(sandbox.list_members(list_id)) == members | ids
    by_id = harness.run(KEY, {"contact_list": str(list_id), "incremental": False})
    assert by_id.status == "succeeded" and by_id.counters == {"updated": ATTENDEES}


def test_a_missing_list_or_a_bad_mapping_fails_before_anything_is_sent(harness, sandbox):
    no_list = harness.run(KEY, {"contact_list": "No Such List"})
    assert no_list.status == "failed" and "no shared contact list named 'No Such List'" in no_list.error
    no_id = harness.run(KEY, {"contact_list": "999999"})
    assert no_id.status == "failed" and "no contact list with id 999999" in no_id.error
    add_outbound_mapping(harness, "registration.status_label", "C_Certain_Status")
    unknown = harness.run(KEY, {})
    assert unknown.status == "failed" and "no contact field(s) C_Certain_Status" in unknown.error
    assert imports(sandbox, IMPORTS) == [] and uploaded_rows(sandbox, DATA) == []


def test_a_read_only_field_in_the_mapping_fails_the_run(harness, sandbox):
    add_outbound_mapping(harness, "registration.status_label", "C_DateModified")
    result = harness.run(KEY, {})
    assert result.status == "failed" and "C_DateModified are read-only" in result.error


def test_registration_fields_can_be_mapped_to_custom_contact_fields(harness, sandbox):
    add_outbound_mapping(harness, "registration.registration_code", "C_Certain_Attendee_ID1")
    assert harness.run(KEY, {}).status == "succeeded"
    for email, reg in list(registrations_by_email(harness).items())[:5]:
        assert contact_of(sandbox, email)["C_Certain_Attendee_ID1"] == reg["registration_code"]


def test_a_worker_dying_while_a_sync_runs_resumes_by_waiting_for_that_sync(harness, sandbox, monkeypatch):
    # wait_for_sync calls: batch 1 import, batch 1 id export, batch 2 import <- the worker dies here
    revive = die_on_call(monkeypatch, EloquaClient, "wait_for_sync", 3)
    run_id = harness.submit(KEY, {"batch_size": 50})
    crashed = harness.execute(run_id)
    assert crashed.status == "running" and crashed.counters == {"created": 50}
    pending = crashed.checkpoint["pending"]
    assert len(pending["entries"]) == 50
    revive()
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    assert any(f"waiting for sync {pending['sync_uri']}" in line["message"] for line in resumed.log)
    assert resumed.counters == {"created": ATTENDEES}
    assert len(imports(sandbox, IMPORTS)) == 3 and len(uploaded_rows(sandbox, DATA)) == ATTENDEES  # nothing twice
    assert all(p["external_ids"].get("eloqua_contact_id") for p in harness.profiles())


def test_a_worker_dying_before_the_sync_started_starts_the_uploaded_batchs_sync(harness, sandbox, monkeypatch):
    revive = die_on_call(monkeypatch, EloquaClient, "start_sync", 3)  # batch 1 import, its id export, batch 2
    run_id = harness.submit(KEY, {"batch_size": 50})
    crashed = harness.execute(run_id)
    pending = crashed.checkpoint["pending"]
    assert crashed.status == "running" and crashed.checkpoint["sent"] == 50
    assert pending["stage"] == "uploaded" and len(pending["entries"]) == 50 and "sync_uri" not in pending
    revive()
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": ATTENDEES}
    assert len(uploaded_rows(sandbox, DATA)) == ATTENDEES  # the staged batch was synced, not uploaded again
    assert len(imports(sandbox, IMPORTS)) == 3 and len(sandbox.all_contacts()) == 400 + ATTENDEES
