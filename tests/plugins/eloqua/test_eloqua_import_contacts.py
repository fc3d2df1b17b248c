"""Import Eloqua Contacts as Registrations / as Profiles, end to end against the sandbox (spec §8
job 1, §3.4): who is imported and how, skips with their reasons, idempotent re-runs, incremental
runs, the export's definition and filter, and the end of the run's Eloqua-side leftovers."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connectors.jobs.submit import SubmitError
from connectors.models import FieldMapping, PluginConfig
from connectors_eloqua.jobs.import_contacts import PROFILES_KEY, REGISTRATIONS_KEY
from connectors_eloqua.sandbox import INVITEES_LIST, NEWSLETTER_LIST

from .support import pod_calls


def invitees(sandbox):
    return [sandbox.contact(i) for i in sandbox.list_members(sandbox.find_list(INVITEES_LIST))]


def exports(sandbox):
    return pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/contacts/exports")


def live_definitions(sandbox):
    return [d for d in sandbox.bulk.definitions.values() if not d.deleted]


def add_contact_without_email(sandbox, list_name=INVITEES_LIST, **values):
    """Eloqua keeps contacts without an email (from a CRM sync, say); the API cannot make one."""
    with sandbox.lock:
        contact = sandbox.contacts.create({"C_FirstName": "No", "C_LastName": "Email", **values})
        sandbox.lists.add(sandbox.find_list(list_name), [contact.id])
    return contact.id


def test_imports_the_list_members_as_registrations(harness, sandbox):
    people = invitees(sandbox)
    result = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": len(people)}
    registrations = harness.registrations()
    assert sorted(r["email"].lower() for r in registrations) == sorted(p["C_EmailAddress"].lower() for p in people)
    assert {(r["status_label"], r["attendee_type_code"], r["source"]) for r in registrations} == {
        ("New", "Attendee", "connector:eloqua")}
    first = people[0]
    profile = next(p for p in harness.profiles() if p["external_ids"].get("eloqua_contact_id") == str(first["id"]))
    assert (profile["email"], profile["first_name"], profile["last_name"], profile["organization"], profile["city"]) == (
        first["C_EmailAddress"], first["C_FirstName"], first["C_LastName"], first["C_Company"], first["C_City"])
    assert result.checkpoint["finished"] and result.checkpoint["offset"] == len(people)
    assert live_definitions(sandbox) == []  # the export definition is deleted afterwards


def test_the_export_reads_the_mapped_fields_of_the_list_in_utc(harness, sandbox):
    harness.run(REGISTRATIONS_KEY, {"contact_list_id": sandbox.find_list(INVITEES_LIST), "page_size": 100})
    (created,) = exports(sandbox)
    body = created.body
    assert body["filter"] == "EXISTS('{{ContactList[%d]}}')" % sandbox.find_list(INVITEES_LIST)
    assert body["areSystemTimestampsInUTC"] is True and body["dataRetentionDuration"] == "P3D"
    assert body["fields"]["ContactId"] == "{{Contact.Id}}" and body["fields"]["ContactUpdatedAt"] == "{{Contact.UpdatedAt}}"
    assert body["fields"]["C_EmailAddress"] == "{{Contact.Field(C_EmailAddress)}}"
    assert {"C_FirstName", "C_Company", "C_Zip_Postal", "C_Country"} <= set(body["fields"])
    pages = pod_calls(sandbox, "GET", r"(?i)/api/bulk/2\.0/syncs/\d+/data")
    assert [(c.param("limit"), c.param("offset")) for c in pages] == [("100", "0"), ("100", "100"), ("100", "200")]
    assert len(pod_calls(sandbox, "DELETE", r"(?i)/api/bulk/2\.0/contacts/exports/\d+")) == 1


def test_running_again_creates_nothing(harness, sandbox):
    first = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST})
    again = harness.rerun(first.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters == {"unchanged": first.counters["created"]}
    assert len(harness.registrations()) == first.counters["created"] == len(harness.profiles())


def test_contacts_without_email_or_with_a_taken_email_are_skipped_with_reasons(harness, sandbox):
    lonely = add_contact_without_email(sandbox)
    result = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST})
    assert result.counters == {"created": len(invitees(sandbox)) - 1, "skipped": 1}
    assert result.records == [{"key": f"contact {lonely}", "outcome": "skipped", "code": "no_email",
                               "message": f"Eloqua contact {lonely} has no email address", "stage": "map"}]
    # a second Eloqua contact with the email of a profile linked to another contact: not merged silently
    victim = invitees(sandbox)[0]
    with sandbox.lock:
        sandbox.contacts.delete(sandbox.contacts.contacts[victim["id"]])
    twin = sandbox.add_contact(C_EmailAddress=victim["C_EmailAddress"].upper(), C_FirstName="Twin")
    sandbox_list = sandbox.find_list(INVITEES_LIST)
    with sandbox.lock:
        sandbox.lists.add(sandbox_list, [twin["id"]])
    again = harness.rerun(result.run_id)
    duplicate = [r for r in again.records if r["code"] == "duplicate"]
    assert [r["key"] for r in duplicate] == [f"contact {twin['id']} <{victim['C_EmailAddress'].upper()}>"]
    assert "already belongs to profile" in duplicate[0]["message"]


def test_existing_registrations_keep_their_status_unless_overwritten(harness, sandbox):
    harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST, "max_records": 10})
    kept = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST, "max_records": 10,
                                           "status_label": "Invited"})
    assert kept.counters == {"skipped": 10} and {r["code"] for r in kept.records} == {"exists"}
    changed = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST, "max_records": 10,
                                              "status_label": "Invited", "overwrite_status": True,
                                              "attendee_type_code": "VIP"})
    assert changed.counters == {"updated": 10}
    assert Counter(r["status_label"] for r in harness.registrations()) == {"Invited": 10}
    assert exports(sandbox)[0].body["maxRecords"] == 10


def test_changed_contacts_update_their_profiles_unless_told_not_to(harness, sandbox):
    first = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST, "max_records": 5})
    person = invitees(sandbox)[0]
    with sandbox.lock:
        sandbox.contacts.update(sandbox.contacts.contacts[person["id"]], {"C_Title": "Chief Events Officer",
                                                                            "C_EmailAddress": "moved@example.org"})
    frozen = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST, "max_records": 5,
                                             "update_profiles": False})
    assert frozen.counters == {"unchanged": 5}
    profile = next(p for p in harness.profiles() if p["external_ids"]["eloqua_contact_id"] == str(person["id"]))
    assert profile["position"] != "Chief Events Officer" and profile["email"] == person["C_EmailAddress"]
    harness.rerun(first.run_id)
    profile = next(p for p in harness.profiles() if p["external_ids"]["eloqua_contact_id"] == str(person["id"]))
    assert (profile["position"], profile["email"]) == ("Chief Events Officer", "moved@example.org")
    assert len(harness.profiles()) == 5  # found by contact id, not created again under the new email


def test_incremental_runs_read_only_contacts_changed_since_the_last_success(harness, sandbox):
    params = {"contact_list_name": INVITEES_LIST, "incremental": True}
    first = harness.run(REGISTRATIONS_KEY, params)
    assert first.counters == {"created": 300}
    assert "UpdatedAt" not in exports(sandbox)[0].body["filter"]  # no successful run before: everyone
    changed = invitees(sandbox)[:3]
    with sandbox.lock:
        for person in changed:
            sandbox.contacts.update(sandbox.contacts.contacts[person["id"]], {"C_Title": "Changed"})
    again = harness.rerun(first.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters == {"updated": 3}
    text = exports(sandbox)[1].body["filter"]
    assert text.startswith("EXISTS('{{ContactList[") and " AND '{{Contact.UpdatedAt}}' > '" in text
    stamp = text.rsplit("'", 2)[-2]
    moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert 0 < (datetime.now(timezone.utc) - moment).total_seconds() < 400  # last start minus the 5-minute overlap


def test_a_segment_or_a_filter_chooses_the_contacts(harness, sandbox):
    people = invitees(sandbox)
    segment = sandbox.add_segment("Paris prospects", [p["id"] for p in people[:7]])
    by_segment = harness.run(REGISTRATIONS_KEY, {"segment_id": segment})
    assert by_segment.counters == {"created": 7}
    assert exports(sandbox)[0].body["filter"] == "EXISTS('{{ContactSegment[%d]}}')" % segment
    french = [c for c in sandbox.all_contacts() if c.get("C_Country") == "France"]
    by_filter = harness.run(REGISTRATIONS_KEY, {"filter": "'{{Contact.Field(C_Country)}}' = 'France'"})
    assert by_filter.status == "succeeded", by_filter.error
    assert sum(by_filter.counters.values()) == len(french) > 0
    newsletter = sandbox.list_members(sandbox.find_list(NEWSLETTER_LIST))
    both = harness.run(REGISTRATIONS_KEY, {"contact_list_name": NEWSLETTER_LIST,
                                           "filter": "'{{Contact.Field(C_Country)}}' = 'France'"})
    assert sum(both.counters.values()) == len([c for c in french if c["id"] in newsletter])
    assert exports(sandbox)[2].body["filter"].endswith("AND ('{{Contact.Field(C_Country)}}' = 'France')")


def test_profiles_job_imports_into_the_account_without_registrations(harness, sandbox):
    result = harness.run(PROFILES_KEY, {"contact_list_name": INVITEES_LIST}, event=False)
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": 300} and len(harness.profiles()) == 300
    assert harness.registrations() == []
    again = harness.rerun(result.run_id)
    assert again.counters == {"unchanged": 300}


@pytest.mark.parametrize("params, message", [
    ({}, "Give a contact list (id or name), a segment id or a filter."),
    ({"contact_list_id": 1, "segment_id": 2}, "Give one of the contact list id, the contact list name or the segment id."),
    ({"contact_list_id": 1, "filter": "EXISTS('{{ContactSegment[2]}}')"}, "Eloqua allows one EXISTS or STATUS"),
    ({"contact_list_id": 1, "page_size": 50_001}, "Must be greater than or equal to 1 and less than or equal to 50000."),
])
def test_bad_parameters_are_refused_with_the_field_named(harness, params, message):
    with pytest.raises(SubmitError) as refused:
        harness.submit(REGISTRATIONS_KEY, params)
    assert message in str(refused.value) and all(k.startswith("params.") for k in refused.value.messages)


@pytest.mark.parametrize("params, code, message", [
    ({"contact_list_name": "Nobody's list"}, "list_not_found", "Eloqua has no shared contact list named"),
    ({"contact_list_id": 999}, "400", "does not exist"),
    ({"segment_id": 999}, "400", "does not exist"),
    ({"filter": "'{{Contact.Field(C_Nope)}}' = 'x'"}, "400", "no contact field C_Nope"),
])
def test_unknown_sources_fail_with_a_clear_message(harness, sandbox, params, code, message):
    result = harness.run(REGISTRATIONS_KEY, params)
    assert result.status == "failed" and result.error.startswith(f"{code}: ") and message in result.error
    assert live_definitions(sandbox) == []


def test_a_mapping_to_an_unknown_contact_field_fails_before_exporting(harness, sandbox):
    with harness.factory() as s, s.begin():
        config = s.scalar(select(PluginConfig).where(PluginConfig.application == "eloqua"))
        s.add(FieldMapping(plugin_config_id=config.id, direction="inbound", certain_field="profile.phone",
                           remote_field="C_Pager"))
    result = harness.run(REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST})
    assert result.status == "failed" and "unknown_field" in result.error and "C_Pager" in result.error
    assert exports(sandbox) == []
