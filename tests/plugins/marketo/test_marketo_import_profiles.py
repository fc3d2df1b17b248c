"""Import Marketo Leads as Profiles (account level), run end to end against the sandbox."""
from __future__ import annotations

import pytest

import connectors_marketo.plugin as plugin
from connectors.testing import Harness
from connectors_marketo.jobs import import_registrations
from connectors_marketo.jobs.import_profiles import KEY, ImportProfilesParams
from connectors_marketo.sandbox import INVITEES_LIST

from .test_marketo_import_registrations import expected, member_calls


@pytest.fixture
def harness(tmp_path, sandbox):
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    yield h
    h.close()


def run(harness, **params):
    return harness.run(KEY, {"static_list_name": INVITEES_LIST, **params}, event=False)


def test_imports_the_list_as_profiles_only(harness, sandbox):
    importable, no_email, duplicates = expected(sandbox)
    result = run(harness)
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": importable, "skipped": len(no_email) + len(duplicates)}
    assert {r["code"] for r in result.records} == {"missing_required", "duplicate"}
    assert len(harness.profiles()) == importable and harness.registrations() == []
    lead = sandbox.get_lead(1)
    profile = next(p for p in harness.profiles() if p["external_ids"].get("marketo_lead_id") == "1")
    assert (profile["email"], profile["last_name"], profile["organization"]) == (lead["email"], lead["lastName"], lead["company"])


def test_running_again_changes_nothing(harness, sandbox):
    importable, no_email, duplicates = expected(sandbox)
    first = run(harness)
    again = harness.rerun(first.run_id)
    assert again.counters == {"unchanged": importable, "skipped": len(no_email) + len(duplicates)}
    assert len(harness.profiles()) == importable


def test_match_rule_none_and_list_id(harness, sandbox):
    twins = sandbox.add_leads([{"email": "twin@example.com", "firstName": "A"}, {"email": "twin@example.com", "firstName": "B"}])
    listed = sandbox.add_list("Twins", [lead["id"] for lead in twins])
    params = {"static_list_id": listed["id"], "match_on": "none"}
    assert harness.run(KEY, params, event=False).counters == {"created": 2}
    assert harness.run(KEY, params, event=False).counters == {"unchanged": 2}


def test_max_records_and_page_size(harness, sandbox):
    result = run(harness, page_size=50, max_records=120)
    assert sum(result.counters.values()) == 120
    assert len(member_calls(sandbox)) == 3 and {c.param("batchSize") for c in member_calls(sandbox)} == {"50"}


def test_it_runs_at_account_level_only(harness):
    with pytest.raises(Exception) as caught:
        harness.submit(KEY, {"static_list_name": INVITEES_LIST}, event=True)
    assert "account level" in str(caught.value)


def test_params_are_those_of_a_profile_import():
    assert set(ImportProfilesParams().fields) == {"static_list_name", "static_list_id", "match_on", "page_size", "max_records",
                                                "mode", "bulk_threshold"}
    with pytest.raises(Exception):
        ImportProfilesParams().load({})


def test_unknown_list_fails(harness):
    result = harness.run(KEY, {"static_list_id": 987654}, event=False)
    assert result.status == "failed" and result.error.startswith("1013")


def test_quota_exhausted_mid_run_resumes_on_the_next_run(harness, sandbox):
    importable = expected(sandbox)[0]
    sandbox.fail_next(1, code=607, path=r"/rest/v1/lists/\d+/leads\.json", after=2)  # the third page
    stopped = run(harness, page_size=100, mode="rest")
    assert stopped.status == "quota_exhausted" and stopped.checkpoint["done"] == 200
    resumed = harness.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert len(harness.profiles()) == importable
    served = [c for c in member_calls(sandbox) if c.status == 200 and not c.codes]
    tokens = [c.param("nextPageToken") for c in served]
    assert len(served) == 6 and len(tokens) == len(set(tokens))  # no page read twice


def test_a_large_list_is_exported_in_bulk(harness, sandbox, monkeypatch):
    monkeypatch.setattr(import_registrations, "BULK_OPTIONS", {"sleep": sandbox.bulk.advance, "clock": sandbox.bulk.now})
    importable, no_email, duplicates = expected(sandbox)
    result = run(harness, mode="bulk")
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": importable, "skipped": len(no_email) + len(duplicates)}
    assert member_calls(sandbox) == [] and sandbox.journal.filter("POST", r"/bulk/v1/leads/export/create\.json")
    assert harness.registrations() == []
