"""Retrying a run's problems against the sandbox: the retry run sends (or reads) only the records
asked for — the journal shows it — and tells which of them are fixed."""
from __future__ import annotations

from connectors.db import transaction
from connectors.jobs import problems
from connectors.models import JobRun
from connectors_marketo.jobs import create_update_leads, import_registrations

from .outbound_support import ATTENDEES, edit_registration, sent, sync_calls


def retry(harness, run_id: int, keys: list[str] | None = None) -> JobRun:
    """Queue a retry of ``keys`` (default: every open problem) of ``run_id`` and run it."""
    with transaction(harness.factory) as s:
        run = s.get(JobRun, run_id)
        retry_id = problems.retry(s, run, keys if keys is not None else problems.keys_to_retry(s, run)).id
    return harness.execute(retry_id)


def outcome(harness, run_id: int):
    with harness.factory() as s:
        return problems.retry_outcome(s, s.get(JobRun, run_id))


def test_a_leads_retry_sends_only_the_fixed_registration(programme_harness, sandbox):
    harness = programme_harness
    regs = harness.registrations()
    fixed, broken = regs[3]["registration_code"], regs[7]["registration_code"]
    edit_registration(harness, fixed, email="not-an-email")
    edit_registration(harness, broken, email="still-not-an-email")
    first = harness.run(create_update_leads.KEY, {})
    assert first.status == "partially_failed" and first.counters == {"created": ATTENDEES - 2, "failed": 2}
    asked = f"{fixed} <not-an-email>"
    assert {r["key"] for r in first.records} == {asked, f"{broken} <still-not-an-email>"}

    edit_registration(harness, fixed, email="fixed@example.com")  # the cause of one, fixed
    mark = len(sandbox.journal)
    one = retry(harness, first.run_id, [asked])
    assert one.status == "succeeded" and one.counters == {"created": 1}  # one record, not 320
    assert [len(c.body["input"]) for c in sync_calls(sandbox, mark)] == [1]
    assert sent(sync_calls(sandbox, mark)) == ["fixed@example.com"]
    assert sent(sync_calls(sandbox, mark), "certainAttendeeId") == [fixed]
    (lead,) = sandbox.find_leads("email", "fixed@example.com")
    assert next(p for p in harness.profiles() if p["email"] == "fixed@example.com")["external_ids"] == {
        "marketo_lead_id": str(lead["id"])}
    got = outcome(harness, one.run_id)
    assert (got.asked, got.fixed, got.still_failing) == (1, [asked], [])  # its key now names the new email

    mark = len(sandbox.journal)
    both = retry(harness, first.run_id)  # "retry all" of the first run's problems
    assert both.counters == {"failed": 1}  # the fixed one is in already: its ledger entry keeps it from going twice
    assert sent(sync_calls(sandbox, mark)) == ["still-not-an-email"]
    got = outcome(harness, both.run_id)
    assert (got.asked, got.fixed, got.still_failing) == (2, [asked], [f"{broken} <still-not-an-email>"]), got


def test_an_import_retry_reads_only_the_asked_for_lead_by_id(programme_harness, sandbox, make_client):
    harness = programme_harness  # the event has ATTENDEES registrations already
    leads = sandbox.add_leads([{"email": f"guest{i}@example.com", "firstName": f"G{i}", "lastName": "Guest"}
                               for i in range(6)] + [{"firstName": "No", "lastName": "Mail"}, {"firstName": "Nor"}])
    sandbox.add_list("Retry guests", [lead["id"] for lead in leads])
    first = harness.run(import_registrations.KEY, {"static_list_name": "Retry guests"})
    assert first.status == "succeeded" and first.counters == {"created": 6, "skipped": 2}
    no_mail = leads[6]["id"]
    asked = f"lead {no_mail}"
    assert {r["key"] for r in first.records} == {asked, f"lead {leads[7]['id']}"}

    make_client().sync_leads([{"id": no_mail, "email": "found@example.com"}], action="updateOnly", lookup_field="id")
    mark = len(sandbox.journal)
    again = retry(harness, first.run_id, [asked])
    assert again.status == "succeeded" and again.counters == {"created": 1}
    calls = [c for c in sandbox.journal.entries()[mark:] if c.path.startswith("/rest/v1/lists/")
             or c.path == "/rest/v1/leads.json"]
    assert [(c.method, c.path, c.param("filterType"), c.param("filterValues")) for c in calls] == [
        ("GET", "/rest/v1/leads.json", "id", str(no_mail))]  # the list is not read again
    assert "found@example.com" in {r["email"] for r in harness.registrations()}
    assert len(harness.registrations()) == ATTENDEES + 7
    got = outcome(harness, again.run_id)
    assert (got.fixed, got.still_failing) == ([asked], [])


def test_an_import_retry_of_a_lead_marketo_lost_is_skipped(programme_harness, sandbox):
    harness = programme_harness
    leads = sandbox.add_leads([{"firstName": "No", "lastName": "Mail"}])
    sandbox.add_list("Retry lost", [leads[0]["id"]])
    first = harness.run(import_registrations.KEY, {"static_list_name": "Retry lost"})
    assert first.counters == {"skipped": 1}
    gone = retry(harness, first.run_id, ["lead 999999", "export row 3"])
    assert gone.counters == {"skipped": 1} and gone.records[0]["code"] == "lead_not_found"
    assert any("1 key(s) asked for name no Marketo lead" in line["message"] for line in gone.log)


def test_a_retry_does_not_move_the_watermark_of_the_next_incremental_run(programme_harness, sandbox):
    harness = programme_harness
    first = harness.run(create_update_leads.KEY, {})
    assert first.status == "succeeded" and first.counters == {"created": ATTENDEES}
    changed, other = harness.registrations()[4], harness.registrations()[11]
    edit_registration(harness, changed["registration_code"], first_name="Changed")  # after the first run began
    again = retry(harness, first.run_id, [f"{other['registration_code']} <{other['email']}>"])
    assert again.status == "succeeded" and again.counters == {}  # already in: its ledger entry holds it back
    mark = len(sandbox.journal)
    following = harness.rerun(first.run_id)  # changed before the retry ran, and still sent
    assert following.counters == {"updated": 1} and sent(sync_calls(sandbox, mark)) == [changed["email"]]
