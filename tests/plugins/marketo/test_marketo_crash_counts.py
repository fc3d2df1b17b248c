"""Counts that match the data after a crash and resume (issue 11, point 6), for every resumable
Marketo job: a worker dies at a chosen point — its uncommitted work lost, what it already did in
Marketo kept, as after a SIGKILL — the lease runs out, another worker resumes the run, and then

- the run succeeds;
- its counters sum to the records it processed (each lead / registration counted once);
- ``created`` equals what the run really created: registrations or profiles in the store, leads
  or custom-object records in the sandbox; and nothing exists twice.

The worker "dies" at a run commit (``die_at``): the commit is refused as a killed process would
never make it, so the work since the previous commit is lost with it — in particular what a chunk
already did in Marketo. Points are conditions on the run's own counters, never sleeps.
"""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import update

import connectors_marketo.plugin as plugin
from connectors import LeaseLost
from connectors.db import transaction
from connectors.jobs import runs
from connectors.jobs.context import JobContext
from connectors.jobs.execute import execute_run
from connectors.models import JobRun
from connectors.testing import Harness
from connectors_marketo.jobs import (
    create_update_leads, engagement, id_ranges, import_profiles, import_registrations, interest, metrics_common,
    trigger_campaign,
)
from connectors_marketo.jobs.import_registrations import BULK_OPTIONS

from .outbound_support import ATTENDEES
from .test_marketo_metrics import add_leads_for, deploy_engagement_object, expected_interest
from .test_marketo_metrics import make_harness as metrics_harness

LEADS = 450
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the bulk clock's start


@pytest.fixture(autouse=True)
def small_batches(monkeypatch, sandbox):
    """Batches of 100 (bulk rows, Sync Leads chunks): a few hundred records make many commits;
    the bulk clock moves only when the exporter waits."""
    monkeypatch.setattr(import_registrations, "BULK_BATCH", 100)
    monkeypatch.setattr(create_update_leads, "CHUNK_SIZE", 100)
    monkeypatch.setattr(metrics_common, "CHUNK", 50)
    sandbox.bulk.clock = lambda: T0
    monkeypatch.setitem(BULK_OPTIONS, "sleep", sandbox.bulk.advance)
    monkeypatch.setitem(BULK_OPTIONS, "clock", sandbox.bulk.now)


@pytest.fixture
def invitees(sandbox):
    """A list of LEADS leads, some without an email and two sharing one (skipped, not lost)."""
    records = [{"email": f"guest{i}@example.com", "firstName": f"Guest{i}", "lastName": "Crash"} for i in range(LEADS)]
    for i in range(0, LEADS, 97):
        records[i].pop("email")
    records[11]["email"] = records[12]["email"]
    leads = sandbox.add_leads(records)
    return sandbox.add_list("Crash list", [lead["id"] for lead in leads])


@pytest.fixture
def inbound(tmp_path, sandbox):
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    yield h
    h.close()


def die_at(monkeypatch, when):
    """The worker dies at the first run commit for which ``when(counted, final)`` holds
    (``counted``: records counted so far, committed or not; ``final``: the run's end commit)."""
    real, died = JobContext.commit, []

    def commit(ctx, **final):
        if not died and when(sum(ctx.counters.values()), bool(final)):
            died.append(sum(ctx.counters.values()))
            raise LeaseLost("worker killed")  # nothing since the previous commit is kept
        real(ctx, **final)

    monkeypatch.setattr(JobContext, "commit", commit)
    return died


def after(n):
    return lambda counted, final: counted >= n


def at_the_end(counted, final):
    return final


def crash_and_resume(h, monkeypatch, job_type, params, when, event=True):
    """Run until the worker dies at ``when``, then let another worker resume it; the run's result."""
    died = die_at(monkeypatch, when)  # once: the worker that resumes lives
    run_id = h.submit(job_type, params, event=event)
    crashed = h.execute(run_id)
    assert died and crashed.status == "running", "the worker never reached the crash point"
    with transaction(h.factory) as s:
        s.execute(update(JobRun).where(JobRun.id == run_id).values(lease_until=JobRun.queued_at))
    assert runs.reap_expired(h.factory) == [run_id]
    claim = runs.claim(h.factory, run_id, "worker-b", 30, attempt=1)
    execute_run(h.factory, h.registry, h.box, claim, 30)
    result = h.result(run_id)
    assert result.status == "succeeded", result.error
    return result


def importable(sandbox, static_list):
    """The list's leads that become profiles: with an email, the first lead of each email."""
    seen, keep = set(), 0
    for lead_id in sandbox.list_members(static_list["id"]):
        email = (sandbox.get_lead(lead_id).get("email") or "").lower()
        keep += bool(email) and email not in seen
        seen.add(email)
    return keep


POINTS = {"after the first commit": after(101), "mid-way": after(LEADS // 2), "at the end": at_the_end}
MODES = {"rest": {"mode": "rest"}, "bulk": {"mode": "bulk"}, "auto": {"mode": "auto", "bulk_threshold": 150}}


@pytest.mark.parametrize("point", POINTS, ids=list(POINTS))
@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_import_registrations_counts_each_lead_once_across_a_crash(inbound, sandbox, invitees, monkeypatch,
                                                                     mode, point):
    params = {"static_list_id": invitees["id"], "page_size": 100, **MODES[mode]}
    die_at_point = POINTS[point]
    result = crash_and_resume(inbound, monkeypatch, import_registrations.KEY, params, die_at_point)
    assert sum(result.counters.values()) == LEADS  # each lead counted once
    registrations = inbound.registrations()
    assert result.counters.get("created") == len(registrations) == importable(sandbox, invitees)
    assert result.counters.get("unchanged", 0) == result.counters.get("updated", 0) == 0
    assert len({r["profile_id"] for r in registrations}) == len(registrations) == len(inbound.profiles())


@pytest.mark.parametrize("point", ["mid-way", "at the end"])
def test_import_profiles_in_auto_mode_counts_each_lead_once_across_a_crash(inbound, sandbox, invitees, monkeypatch,
                                                                           point):
    params = {"static_list_id": invitees["id"], "page_size": 100, **MODES["auto"]}
    result = crash_and_resume(inbound, monkeypatch, import_profiles.KEY, params, POINTS[point], event=False)
    assert sum(result.counters.values()) == LEADS
    assert result.counters.get("created") == len(inbound.profiles()) == importable(sandbox, invitees)


CHUNKS = {"after the first chunk": after(1), "mid-way": after(ATTENDEES // 2), "at the end": at_the_end}


@pytest.mark.parametrize("point", CHUNKS, ids=list(CHUNKS))
def test_create_update_leads_counts_the_leads_it_created_across_a_crash(programme_harness, sandbox, monkeypatch,
                                                                        point):
    before = len(sandbox.leads)
    result = crash_and_resume(programme_harness, monkeypatch, create_update_leads.KEY, {}, CHUNKS[point])
    assert sum(result.counters.values()) == ATTENDEES
    created = len(sandbox.leads) - before
    assert result.counters == {"created": created} and created == ATTENDEES
    emails = Counter((lead.get("email") or "").lower() for lead in sandbox.leads[before:])
    assert max(emails.values()) == 1  # nothing twice in Marketo


@pytest.mark.parametrize("point", ["mid-way", "at the end"])
def test_engagement_counts_the_records_it_created_across_a_crash(tmp_path, sandbox, monkeypatch, point):
    deploy_engagement_object(sandbox)
    h = metrics_harness(tmp_path, sandbox, attendees=120)
    try:
        add_leads_for(sandbox, h.registrations())
        when = after(60) if point == "mid-way" else at_the_end
        result = crash_and_resume(h, monkeypatch, engagement.KEY, {}, when)
        records = sandbox.custom_object_records(engagement.DEFAULT_OBJECT)
        assert sum(result.counters.values()) == 120
        assert result.counters == {"created": len(records)} and len(records) == 120
        assert max(Counter((r["attendeeId"], r["eventCode"]) for r in records).values()) == 1
    finally:
        h.close()


@pytest.mark.parametrize("point", ["after the first chunk", "mid-way", "at the end"])
def test_interest_counts_the_records_it_created_across_a_crash(tmp_path, sandbox, monkeypatch, point):
    h = metrics_harness(tmp_path, sandbox, attendees=60)
    try:
        add_leads_for(sandbox, h.registrations())
        tags = 5 * 60  # every account tag per registration (zero_out)
        when = {"after the first chunk": after(1), "mid-way": after(tags // 2), "at the end": at_the_end}[point]
        result = crash_and_resume(h, monkeypatch, interest.KEY, {}, when)
        records = sandbox.custom_object_records(interest.DEFAULT_OBJECT)
        assert sum(result.counters.values()) == tags
        assert result.counters == {"created": len(records)} and len(records) == tags
        assert max(Counter((r["attendeeId"], r["eventCode"], r["tag"]) for r in records).values()) == 1
        assert {(r["attendeeId"], r["tag"]): r["score"] for r in records} == expected_interest(h)
    finally:
        h.close()


#: requests the dead worker's last chunk made before the commit it never made: Marketo keeps no
#: key a repeated request could be told apart by (docs/marketo.md, "Trigger Marketo Campaign")
IN_FLIGHT = {"after the first chunk": trigger_campaign.TRIGGER_CHUNK, "mid-way": trigger_campaign.TRIGGER_CHUNK,
             "at the end": 0}


@pytest.mark.parametrize("point", CHUNKS, ids=list(CHUNKS))
def test_trigger_campaign_counts_each_request_once_across_a_crash(programme_harness, sandbox, monkeypatch, point):
    assert programme_harness.run(create_update_leads.KEY, {}).counters == {"created": ATTENDEES}
    campaign = sandbox.add_campaign("Crash reminder")
    result = crash_and_resume(programme_harness, monkeypatch, trigger_campaign.KEY, {"campaign_id": campaign["id"]},
                              CHUNKS[point])
    requested = [lead for run in sandbox.campaign_runs for lead in run.lead_ids]
    leads = {int(p["external_ids"]["marketo_lead_id"]) for p in programme_harness.profiles()}
    assert sum(result.counters.values()) == ATTENDEES
    assert result.counters == {"created": len(set(requested))} and set(requested) == leads
    assert len(requested) - len(set(requested)) == IN_FLIGHT[point]  # at most the one chunk in flight, again


def test_the_lead_ids_a_checkpoint_keeps_are_ranges_and_give_up_past_the_cap(monkeypatch):
    taken = id_ranges.IdRanges()
    taken.add([1005, 1003, 1004])
    taken.add([1001, 1002, 1010])
    assert taken.saved() == [[1001, 1005], [1010, 1010]] and 1002 in taken and 1006 not in taken
    monkeypatch.setattr(id_ranges, "MAX_RANGES", 2)
    taken.add([2000])
    assert taken.saved() is None and 1002 not in taken
