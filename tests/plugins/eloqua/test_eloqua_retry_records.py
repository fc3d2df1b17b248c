"""Retrying a run's problems against the Eloqua sandbox: the retry run sends only the records
asked for (the staged Bulk rows show it), a contact list in sync mode keeps its other members, and
an import retry exports only the asked-for contacts."""
from __future__ import annotations

from connectors.db import transaction
from connectors.jobs import problems
from connectors.models import JobRun
from connectors_eloqua.jobs import contact_list, create_update_contacts, import_contacts
from connectors_eloqua.sandbox import INVITEES_LIST, NEWSLETTER_LIST

from .outbound_support import ATTENDEES, edit_registration, seed_attendees, uploaded_rows
from .support import pod_calls
from .test_eloqua_contact_list import invitee_emails, members_by_email, register, sync_action_definitions

DATA = r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data"


def retry(harness, run_id: int, keys: list[str]):
    """Queue a retry of ``keys`` of ``run_id``, run it; its result and which keys it fixed."""
    with transaction(harness.factory) as s:
        retry_id = problems.retry(s, s.get(JobRun, run_id), keys).id
    result = harness.execute(retry_id)
    with harness.factory() as s:
        return result, problems.retry_outcome(s, s.get(JobRun, retry_id))


def test_a_contacts_retry_sends_only_the_fixed_registration(harness, sandbox):
    seed_attendees(harness)
    regs = harness.registrations()
    fixed, broken = regs[2]["registration_code"], regs[9]["registration_code"]
    edit_registration(harness, fixed, email="not-an-email")
    edit_registration(harness, broken, email="still-not-an-email")
    first = harness.run(create_update_contacts.KEY, {"batch_size": 1000})
    assert first.status == "partially_failed" and first.counters == {"created": ATTENDEES - 2, "failed": 2}
    asked = f"{fixed} <not-an-email>"
    assert {r["key"] for r in first.records} == {asked, f"{broken} <still-not-an-email>"}

    edit_registration(harness, fixed, email="fixed@example.com")
    staged = len(uploaded_rows(sandbox, DATA))
    again, outcome = retry(harness, first.run_id, [asked])
    assert again.status == "succeeded" and again.counters == {"created": 1}
    rows = uploaded_rows(sandbox, DATA)[staged:]
    assert [row["C_EmailAddress"] for row in rows] == ["fixed@example.com"]  # one row staged, not 120
    contact = sandbox.find_contact("fixed@example.com")
    assert next(p for p in harness.profiles() if p["email"] == "fixed@example.com")["external_ids"] == {
        "eloqua_contact_id": str(contact["id"])}
    assert (outcome.fixed, outcome.still_failing) == ([asked], [])


def test_a_contact_list_retry_in_sync_mode_takes_no_member_out(harness, sandbox):
    newsletter = sandbox.find_list(NEWSLETTER_LIST)
    members = sandbox.list_members(newsletter)
    staying = [sandbox.contact(i)["C_EmailAddress"] for i in members[:6]]
    outsiders = [e for e in invitee_emails(sandbox, 60) if sandbox.find_contact(e)["id"] not in members][:3]
    register(harness, [*staying, *outsiders, "ghost@nowhere.example", "phantom@nowhere.example"])
    first = harness.run(contact_list.KEY, {"contact_list_id": newsletter, "mode": "sync"})
    assert first.counters["skipped"] == 2 and {r["code"] for r in first.records} == {"not_in_eloqua"}
    ghost = next(r["key"] for r in first.records if "ghost@" in r["key"])
    in_list = members_by_email(sandbox, newsletter)
    assert in_list == sorted(e.lower() for e in [*staying, *outsiders])

    sandbox.add_contact(C_EmailAddress="ghost@nowhere.example", C_LastName="Ghost")  # fixed in Eloqua
    actions = len(sync_action_definitions(sandbox))
    again, outcome = retry(harness, first.run_id, [ghost])
    assert again.status == "succeeded" and again.counters == {"created": 1}
    assert members_by_email(sandbox, newsletter) == sorted([*in_list, "ghost@nowhere.example"])  # nobody taken out
    assert [d["syncActions"][0]["action"] for d in sync_action_definitions(sandbox)[actions:]] == ["add"]
    assert (outcome.fixed, outcome.still_failing) == ([ghost], [])


def test_an_import_retry_exports_only_the_asked_for_contact(harness, sandbox):
    with sandbox.lock:
        lost = [sandbox.contacts.create({"C_FirstName": "No", "C_LastName": f"Email {i}"}) for i in range(2)]
        sandbox.lists.add(sandbox.find_list(INVITEES_LIST), [c.id for c in lost])
    first = harness.run(import_contacts.REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST})
    assert first.status == "succeeded" and first.counters["skipped"] == 2
    asked = f"contact {lost[0].id}"
    assert {r["key"] for r in first.records} == {asked, f"contact {lost[1].id}"}
    imported = len(harness.registrations())

    with sandbox.lock:
        sandbox.contacts.update(lost[0], {"C_EmailAddress": "found@example.com"})  # fixed in Eloqua
    exports = len(export_definitions(sandbox))
    again, outcome = retry(harness, first.run_id, [asked])
    assert again.status == "succeeded" and again.counters == {"created": 1}  # one contact, not the whole list
    (definition,) = export_definitions(sandbox)[exports:]
    assert definition["filter"].endswith("AND ('{{Contact.Id}}' = '%s')" % lost[0].id)
    assert len(harness.registrations()) == imported + 1
    assert "found@example.com" in {r["email"] for r in harness.registrations()}
    assert (outcome.fixed, outcome.still_failing) == ([asked], [])


def export_definitions(sandbox):
    return [c.body for c in pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/contacts/exports") if c.status == 201]
