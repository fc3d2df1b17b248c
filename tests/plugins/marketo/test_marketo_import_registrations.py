"""Import Marketo Leads as Registrations, run end to end against the sandbox (spec §8.1)."""
from __future__ import annotations

from collections import Counter

import pytest

import connectors_marketo.plugin as plugin
from connectors.testing import Harness
from connectors_marketo.jobs.import_registrations import KEY
from connectors_marketo.sandbox import INVITEES_LIST


@pytest.fixture
def harness(tmp_path, sandbox):
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    yield h
    h.close()


def expected(sandbox):
    """What the seeded invitees should give: importable leads, and the ones to skip."""
    members = [sandbox.get_lead(i) for i in sandbox.list_members(sandbox.find_list(INVITEES_LIST)["id"])]
    no_email = [m for m in members if not m.get("email")]
    seen, duplicates = set(), []
    for m in members:  # in id order: the first lead with an email gets the profile, the next is a duplicate
        email = (m.get("email") or "").lower()
        if email and email in seen:
            duplicates.append(m)
        seen.add(email)
    return len(members) - len(no_email) - len(duplicates), no_email, duplicates


def member_calls(sandbox):
    return sandbox.journal.filter("GET", r"/rest/v1/lists/\d+/leads\.json")


def test_imports_the_invitees_as_registrations(harness, sandbox):
    importable, no_email, duplicates = expected(sandbox)
    result = harness.run(KEY, {"static_list_name": INVITEES_LIST})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": importable, "skipped": len(no_email) + len(duplicates)}
    reasons = Counter(r["code"] for r in result.records)
    assert reasons == {"missing_required": len(no_email), "duplicate": len(duplicates)}
    registrations = harness.registrations()
    assert len(registrations) == importable
    assert {(r["status_label"], r["attendee_type_code"], r["source"]) for r in registrations} == {
        ("New", "Attendee", "connector:marketo")}
    lead = sandbox.get_lead(1)
    profile = next(p for p in harness.profiles() if p["external_ids"].get("marketo_lead_id") == "1")
    assert (profile["email"], profile["first_name"], profile["organization"]) == (
        lead["email"], lead["firstName"], lead["company"])
    assert result.checkpoint["finished"] and result.checkpoint["done"] == 520


def test_reads_only_the_mapped_fields_with_a_bearer_token(harness, sandbox):
    harness.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 100})
    calls = member_calls(sandbox)
    assert len(calls) == 6 and {c.param("batchSize") for c in calls} == {"100"}
    fields = calls[0].param("fields").split(",")
    assert fields[:2] == ["id", "email"] and {"firstName", "company", "postalCode", "country"} <= set(fields)
    assert all(c.header("Authorization", "").startswith("Bearer ") and "access_token" not in c.query for c in calls)
    assert len(sandbox.journal.filter(path="/identity/oauth/token")) == 1


def test_running_again_creates_nothing(harness, sandbox):
    importable, no_email, duplicates = expected(sandbox)
    harness.run(KEY, {"static_list_name": INVITEES_LIST})
    again = harness.run(KEY, {"static_list_name": INVITEES_LIST})
    assert again.status == "succeeded"
    assert again.counters == {"unchanged": importable, "skipped": len(no_email) + len(duplicates)}
    assert len(harness.registrations()) == importable and len(harness.profiles()) == importable


def test_changed_lead_updates_its_profile_found_by_lead_id(harness, sandbox):
    lead = sandbox.add_lead(email="ann@example.com", firstName="Ann", company="Old Co")
    small = sandbox.add_list("Small list", [lead["id"]])
    harness.run(KEY, {"static_list_id": small["id"]})
    sandbox.store.leads[lead["id"]].update(email="ann.new@example.com", company="New Co")
    result = harness.run(KEY, {"static_list_id": small["id"]})
    (profile,) = [p for p in harness.profiles() if p["external_ids"].get("marketo_lead_id") == str(lead["id"])]
    assert (profile["email"], profile["organization"]) == ("ann.new@example.com", "New Co")
    assert result.counters == {"unchanged": 1}  # the registration itself did not change
    assert len(harness.registrations()) == 1


def test_existing_registrations_keep_their_status_unless_overwritten(harness, sandbox):
    leads = sandbox.add_leads([{"email": f"p{i}@example.com"} for i in range(3)])
    small = sandbox.add_list("Three", [lead["id"] for lead in leads])
    harness.run(KEY, {"static_list_id": small["id"]})
    kept = harness.run(KEY, {"static_list_id": small["id"], "status_label": "Attended"})
    assert kept.counters == {"skipped": 3} and {r["code"] for r in kept.records} == {"exists"}
    changed = harness.run(KEY, {"static_list_id": small["id"], "status_label": "Attended", "overwrite_status": True})
    assert changed.counters == {"updated": 3}
    assert {r["status_label"] for r in harness.registrations()} == {"Attended"}


def test_max_records_stops_early(harness, sandbox):
    result = harness.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 100, "max_records": 150})
    assert sum(result.counters.values()) == 150
    assert len(member_calls(sandbox)) == 2 and result.checkpoint["finished"]


def test_match_rule_none_keeps_duplicate_leads_apart(harness, sandbox):
    leads = sandbox.add_leads([{"email": "twin@example.com", "firstName": "A"}, {"email": "twin@example.com", "firstName": "B"}])
    twins = sandbox.add_list("Twins", [lead["id"] for lead in leads])
    result = harness.run(KEY, {"static_list_id": twins["id"], "match_on": "none"})
    assert result.counters == {"created": 2}
    assert harness.run(KEY, {"static_list_id": twins["id"], "match_on": "none"}).counters == {"unchanged": 2}


@pytest.mark.parametrize("params, code", [
    ({"static_list_name": "No such list"}, "list_not_found"),
    ({"static_list_id": 987654}, "1013"),
])
def test_unknown_list_fails_with_a_clear_message(harness, params, code):
    result = harness.run(KEY, params)
    assert result.status == "failed" and result.error.startswith(code) and "static list" in result.error
    assert harness.registrations() == []


def test_two_lists_with_the_same_name_fail(harness, sandbox):
    sandbox.add_list("Twice")
    sandbox.add_list("Twice")
    result = harness.run(KEY, {"static_list_name": "Twice"})
    assert result.status == "failed" and "ambiguous_list" in result.error and "give the list id" in result.error


def test_list_name_or_id_is_required(harness):
    with pytest.raises(Exception) as caught:
        harness.submit(KEY, {})
    assert "static_list_name" in str(caught.value)


def test_mapping_to_an_unknown_marketo_field_fails_before_reading(harness, sandbox):
    del sandbox.store.fields["title"]
    result = harness.run(KEY, {"static_list_name": INVITEES_LIST})
    assert result.status == "failed" and "unknown_field" in result.error and "title" in result.error
    assert member_calls(sandbox) == []


def test_transient_failures_between_pages_are_retried(harness, sandbox, no_real_sleep):
    sandbox.fail_next(2, code="606", after=4)  # describe, lists.json, page 1, page 2 pass; page 3 hits 606 twice
    sandbox.fail_next(1, http_status=502)
    result = harness.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 100})
    assert result.status == "succeeded", result.error
    assert len(harness.registrations()) == expected(sandbox)[0]
    assert len(no_real_sleep) == 3
    assert [c.codes for c in member_calls(sandbox)].count(("606",)) == 2


def test_token_expiring_mid_run_is_refreshed(harness, sandbox):
    sandbox.fail_next(1, code="602", after=3)
    result = harness.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 200})
    assert result.status == "succeeded"
    assert len(harness.registrations()) == expected(sandbox)[0]


def test_failure_mid_run_keeps_saved_pages_and_a_rerun_completes(harness, sandbox):
    sandbox.fail_next(5, http_status=500, after=4)  # page 3 of 100 fails all 5 attempts
    failed = harness.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 100})
    assert failed.status == "failed" and failed.error.startswith("500")
    assert failed.checkpoint["done"] == 200 and failed.checkpoint["next_page_token"]
    saved = len(harness.registrations())
    assert 0 < saved <= 200
    rerun = harness.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 100})
    assert rerun.status == "succeeded"
    assert rerun.counters["unchanged"] == saved
    assert len(harness.registrations()) == expected(sandbox)[0]


def test_quota_exhausted_ends_the_run_with_its_own_code(tmp_path):
    from connectors_marketo.sandbox import start_sandbox

    sandbox = start_sandbox(daily_quota=3)
    h = Harness(tmp_path, plugins={"marketo": plugin})
    try:
        h.configure("marketo", sandbox.connection)
        result = h.run(KEY, {"static_list_name": INVITEES_LIST, "page_size": 100})
        assert result.status == "quota_exhausted", result.error
        assert result.checkpoint["done"] == 100  # the one page read before the quota ran out is kept
        sandbox.daily_quota = 50_000  # a new day
        resumed = h.rerun(result.run_id)  # the next run starts where the budget ran out
        assert resumed.status == "succeeded"
        assert any("stopped (API quota)" in line["message"] for line in resumed.log)
        assert result.counters["created"] + resumed.counters["created"] == 494
    finally:
        h.close()
        sandbox.stop()
