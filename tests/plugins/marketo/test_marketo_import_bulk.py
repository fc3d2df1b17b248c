"""Import Marketo Leads as Registrations through a Bulk Lead Extract (spec §4.1, §8.1): the
same result as the REST import, a crash resumed inside the same export, auto mode's choice, and
1029 as quota_exhausted. The bulk clock only moves when the exporter sleeps, so nothing waits."""
from __future__ import annotations

import pytest
from sqlalchemy import update

import connectors_marketo.plugin as plugin
from connectors import LeaseLost
from connectors.db import transaction
from connectors.jobs import runs
from connectors.jobs.execute import execute_run
from connectors.models import JobRun
from connectors.testing import Harness
from connectors_marketo.jobs import import_registrations
from connectors_marketo.jobs.import_registrations import BULK_OPTIONS, KEY

LEADS = 2500
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
PROFILE_FIELDS = ("email", "first_name", "last_name", "organization", "position", "phone", "city", "state",
                  "postal_code", "country", "external_ids")


@pytest.fixture(autouse=True)
def bulk_clock(monkeypatch, sandbox):
    """No real waits: the client's backoff is recorded, the export's polls move the bulk clock."""
    bulk = sandbox.bulk
    bulk.clock = lambda: T0
    bulk.queue_seconds, bulk.processing_seconds = 60, 240  # some polls before the file is there
    monkeypatch.setitem(BULK_OPTIONS, "sleep", bulk.advance)
    monkeypatch.setitem(BULK_OPTIONS, "clock", bulk.now)
    return bulk


@pytest.fixture
def big_list(sandbox):
    """A list of a few thousand leads with the usual untidiness: some without email, a duplicate."""
    records = [{"email": f"person{i}@example.com", "firstName": f"First{i}", "lastName": f"Last{i % 97}",
                "company": f"Company {i % 41}", "city": "Lyon" if i % 2 else "Paris", "country": "France",
                **({"title": "Engineer"} if i % 3 else {}), **({"phone": f"+33 1 {i:06d}"} if i % 5 else {})}
               for i in range(LEADS)]
    for i in range(0, LEADS, 500):
        records[i].pop("email")
    records[7]["email"] = records[8]["email"]
    leads = sandbox.add_leads(records)
    return sandbox.add_list("Big list", [lead["id"] for lead in leads])


@pytest.fixture
def harness(tmp_path, sandbox):
    h = make_harness(tmp_path / "main", sandbox)
    yield h
    h.close()


def make_harness(path, sandbox):
    path.mkdir(parents=True, exist_ok=True)
    h = Harness(path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    return h


def params(big_list, **more):
    return {"static_list_id": big_list["id"], **more}


def people(h):
    return sorted((tuple(str(p[f]) for f in PROFILE_FIELDS) for p in h.profiles()))


def outcome(result):
    return result.counters, sorted((r["key"], r["code"]) for r in result.records)


def calls(sandbox, what):
    return sandbox.journal.filter(path=rf"/bulk/v1/leads/export/[^/]+/{what}\.json")


def creates(sandbox):
    return sandbox.journal.filter("POST", r"/bulk/v1/leads/export/create\.json")


def member_calls(sandbox):
    return sandbox.journal.filter("GET", r"/rest/v1/lists/\d+/leads\.json")


def importable():
    return LEADS - LEADS // 500 - 1  # without the leads lacking an email and the duplicate


def test_bulk_import_gives_the_rest_import_result(tmp_path, sandbox, big_list):
    rest_h, bulk_h = make_harness(tmp_path / "rest", sandbox), make_harness(tmp_path / "bulk", sandbox)
    try:
        rest = rest_h.run(KEY, params(big_list, mode="rest"))
        assert creates(sandbox) == []
        bulk = bulk_h.run(KEY, params(big_list, mode="bulk"))
        assert rest.status == bulk.status == "succeeded", bulk.error
        assert outcome(bulk) == outcome(rest)
        assert bulk.counters == {"created": importable(), "skipped": LEADS - importable()}
        assert people(bulk_h) == people(rest_h) and len(bulk_h.registrations()) == importable()
        assert len(member_calls(sandbox)) == -(-LEADS // 300)  # only the REST run read pages
        assert len(creates(sandbox)) == 1 and len(calls(sandbox, "file")) == 1
        assert bulk.checkpoint["finished"] and bulk.checkpoint["bulk"]["rows_done"] == LEADS
        assert creates(sandbox)[0].body["filter"] == {"staticListId": big_list["id"]}
        fields = creates(sandbox)[0].body["fields"]
        assert fields[:2] == ["id", "email"] and {"firstName", "company", "postalCode"} <= set(fields)
    finally:
        rest_h.close()
        bulk_h.close()


def die_on_batch(monkeypatch, n):
    """Make the ``n``-th bulk batch kill the worker (as if the process died): what it did after
    the last commit is lost, the run stays ``running`` until its lease runs out."""
    real, batches = import_registrations._import_page, []

    def import_page(ctx, leads, p):
        batches.append(len(leads))
        if len(batches) == n:
            raise LeaseLost("worker killed")
        real(ctx, leads, p)

    monkeypatch.setattr(import_registrations, "_import_page", import_page)
    return lambda: monkeypatch.setattr(import_registrations, "_import_page", real)


def take_over(harness, run_id):
    """The lease runs out; the reaper re-queues the run and another worker executes it."""
    with transaction(harness.factory) as s:
        s.execute(update(JobRun).where(JobRun.id == run_id).values(lease_until=JobRun.queued_at))
    assert runs.reap_expired(harness.factory) == [run_id]
    fresh = runs.claim(harness.factory, run_id, "worker-b", 30, attempt=1)
    execute_run(harness.factory, harness.registry, harness.box, fresh, 30)
    return harness.result(run_id)


def test_crash_mid_import_resumes_in_the_same_export_after_rows_done(harness, sandbox, big_list, monkeypatch):
    revive = die_on_batch(monkeypatch, 3)
    run_id = harness.submit(KEY, params(big_list, mode="bulk"))
    crashed = harness.execute(run_id)
    assert crashed.status == "running" and crashed.checkpoint["bulk"]["rows_done"] == 2000
    export_id = crashed.checkpoint["bulk"]["export_id"]
    assert 0 < len(harness.registrations()) < 2000 and sum(crashed.counters.values()) == 2000
    revive()
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    assert any(f"resuming export {export_id} after 2000 rows" in line["message"] for line in resumed.log)
    assert len(creates(sandbox)) == 1 and resumed.checkpoint["bulk"] == {"export_id": export_id, "rows_done": LEADS}
    assert resumed.counters == {"created": importable(), "skipped": LEADS - importable()}  # nothing twice
    assert len(harness.registrations()) == importable()


def test_an_expired_export_is_replaced_and_the_leads_already_imported_are_skipped(harness, sandbox, big_list,
                                                                                 monkeypatch):
    revive = die_on_batch(monkeypatch, 2)
    run_id = harness.submit(KEY, params(big_list, mode="bulk"))
    assert harness.execute(run_id).checkpoint["bulk"]["rows_done"] == 1000
    revive()
    sandbox.bulk.advance(8 * 86400)  # export files are kept 7 days
    result = take_over(harness, run_id)
    assert result.status == "succeeded" and len(creates(sandbox)) == 2
    assert any("is gone: exporting the list again" in line["message"] for line in result.log)
    assert len(harness.registrations()) == importable()
    assert result.counters == {"created": importable(), "skipped": LEADS - importable()}  # each lead counted once
    members = sandbox.list_members(big_list["id"])
    assert result.checkpoint["taken"] == [[min(members), max(members)]]  # leads made together: one range


def test_auto_mode_exports_in_bulk_above_the_threshold(harness, sandbox, big_list):
    result = harness.run(KEY, params(big_list, bulk_threshold=1000))
    assert result.status == "succeeded", result.error
    assert len(member_calls(sandbox)) == 4 and len(creates(sandbox)) == 1  # 4 x 300 >= 1000, more to come
    assert result.counters == {"created": importable(), "skipped": LEADS - importable()}  # REST leads not redone
    assert len(harness.registrations()) == importable()
    assert any("more than 1000 leads: exporting the rest in bulk" in line["message"] for line in result.log)


def test_auto_mode_stays_with_rest_below_the_threshold(harness, sandbox, big_list):
    result = harness.run(KEY, params(big_list))  # default threshold 5000
    assert result.status == "succeeded" and creates(sandbox) == []
    assert len(member_calls(sandbox)) == -(-LEADS // 300)
    assert result.counters == {"created": importable(), "skipped": LEADS - importable()}


def test_max_records_stops_a_bulk_import(harness, sandbox, big_list):
    result = harness.run(KEY, params(big_list, mode="bulk", max_records=1500))
    assert sum(result.counters.values()) == 1500 and result.checkpoint["finished"]


def test_export_quota_ends_quota_exhausted_and_the_next_run_resumes_the_export(harness, sandbox, big_list):
    sandbox.bulk.faults.quota_exceeded()  # the enqueue answers 1029
    first = harness.run(KEY, params(big_list, mode="bulk"))
    assert first.status == "quota_exhausted" and first.error.startswith("quota_exhausted") and "1029" in first.error
    export_id = first.checkpoint["bulk"]["export_id"]
    assert export_id and harness.registrations() == []
    second = harness.rerun(first.run_id)
    assert second.status == "succeeded", second.error
    assert len(creates(sandbox)) == 1 and second.checkpoint["bulk"]["export_id"] == export_id
    assert len(harness.registrations()) == importable()


def test_a_misaligned_row_is_reported_and_counted_as_read(harness, sandbox, big_list):
    sandbox.bulk.faults.dirty_csv(misaligned_rows=[1200])  # NUL / CR bytes too, which are cleaned
    result = harness.run(KEY, params(big_list, mode="bulk"))
    assert result.status == "partially_failed"
    bad = [r for r in result.records if r["code"] == "bad_row"]
    assert len(bad) == 1 and bad[0]["key"] == "export row 1200" and bad[0]["outcome"] == "failed"
    assert result.checkpoint["bulk"]["rows_done"] == LEADS and sum(result.counters.values()) == LEADS
