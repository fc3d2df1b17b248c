"""Create or Update Leads de-duplicates lookup keys while streaming (no first pass): within a
chunk, across chunks, across a resume and with the ledger. Run end to end against the sandbox;
the test event has 320 registrations, so two Sync Leads chunks (300 + 20)."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from connectors.db import transaction
from connectors.models import JobRun, Registration
from connectors_marketo.jobs.create_update_leads import KEY

from .outbound_support import ATTENDEES, edit_registration, sent, sync_calls

SYNC = r"/rest/v1/leads\.json"


@pytest.fixture
def harness(programme_harness):
    return programme_harness


def share_email(harness, first: int, second: int, newer: int):
    """Registration ``second`` gets ``first``'s email (upper-cased: another profile, the same
    key); ``newer`` (one of the two) is modified last. Returns both registrations."""
    people = harness.registrations()
    one, two = people[first], people[second]
    edit_registration(harness, two["registration_code"], email=one["email"].upper())
    edit_registration(harness, people[newer]["registration_code"], later=True)
    return one, two


def the_lead(sandbox, email):
    (lead,) = sandbox.find_leads("email", email)  # one lead: never created twice
    return lead


def sent_keys(sandbox, since=0):
    return [email.casefold() for email in sent(sync_calls(sandbox, since))]


def test_within_a_chunk_a_later_modified_registration_replaces_the_earlier(harness, sandbox):
    one, two = share_email(harness, 0, 1, newer=1)
    result = harness.run(KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES - 1, "skipped": 1}
    (record,) = result.records
    assert record["key"].startswith(one["registration_code"]) and record["code"] == "duplicate_in_batch"
    assert two["registration_code"] in record["message"]
    assert [len(c.body["input"]) for c in sync_calls(sandbox)] == [300, 19]  # the place was reused, no extra call
    assert the_lead(sandbox, one["email"])["certainAttendeeId"] == two["registration_code"]


def test_across_chunks_a_later_modified_registration_is_sent_again(harness, sandbox):
    one, two = share_email(harness, 0, 310, newer=310)
    result = harness.run(KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES - 1, "updated": 1} and result.records == []
    calls = sync_calls(sandbox)
    assert [len(c.body["input"]) for c in calls] == [300, 20]
    assert [sent_keys(sandbox).count(one["email"].casefold())] == [2]  # once in each chunk...
    assert sandbox.overlapping_upserts() == set()  # ...never in two calls at once
    lead = the_lead(sandbox, one["email"])
    assert lead["certainAttendeeId"] == two["registration_code"]  # the last modified data stays
    profiles = {p["id"]: p for p in harness.profiles()}
    assert profiles[one["profile_id"]]["external_ids"] == {"marketo_lead_id": str(lead["id"])}
    assert "marketo_lead_id" not in profiles[two["profile_id"]]["external_ids"]
    assert any("1 registrations updated a lead that an earlier registration" in line["message"] for line in result.log)


def test_across_chunks_an_earlier_modified_registration_is_skipped(harness, sandbox):
    one, two = share_email(harness, 0, 310, newer=0)
    result = harness.run(KEY, {})
    assert result.counters == {"created": ATTENDEES - 1, "skipped": 1}
    (record,) = result.records
    assert record["key"].startswith(two["registration_code"]) and record["code"] == "duplicate_in_batch"
    assert one["registration_code"] in record["message"]
    assert [len(c.body["input"]) for c in sync_calls(sandbox)] == [300, 19]
    assert the_lead(sandbox, one["email"])["certainAttendeeId"] == one["registration_code"]


@pytest.mark.parametrize("newer, counters", [(0, {"created": 19, "skipped": 1}), (310, {"created": 19, "updated": 1})])
def test_a_resume_judges_duplicates_by_what_went_before_the_checkpoint(harness, sandbox, newer, counters):
    one, two = share_email(harness, 0, 310, newer=newer)
    before = len(sandbox.leads)
    sandbox.fail_next(1, code=607, path=SYNC, after=1)  # the second chunk meets the daily quota
    stopped = harness.run(KEY, {"incremental": False})
    assert stopped.status == "quota_exhausted" and stopped.counters == {"created": 300}
    resumed = harness.rerun(stopped.run_id)  # goes on after the checkpoint: registration 0 is not read again
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == counters  # no failed link either: the lead id on 0's profile is known
    winner = one if newer == 0 else two
    assert the_lead(sandbox, one["email"])["certainAttendeeId"] == winner["registration_code"]
    assert len(sandbox.leads) == before + ATTENDEES - 1


def test_a_newer_unchanged_registration_goes_again_after_an_older_one_was_sent(harness, sandbox):
    one, two = share_email(harness, 0, 310, newer=310)
    first = harness.run(KEY, {})
    assert first.counters == {"created": ATTENDEES - 1, "updated": 1}
    codes = [r["registration_code"] for r in harness.registrations()[:300]]
    with transaction(harness.factory) as s:  # 300 registrations change: a whole chunk, 0 among them
        s.execute(update(Registration).where(Registration.registration_code.in_(codes))
                  .values(status_label="Cancelled", version=Registration.version + 1))
    mark = len(sandbox.journal)
    second = harness.rerun(first.run_id)
    assert second.status == "succeeded", second.error
    assert second.counters == {"updated": 301}  # 310 is unchanged, but the lead just got 0's data
    assert [len(c.body["input"]) for c in sync_calls(sandbox, mark)] == [300, 1]
    assert the_lead(sandbox, one["email"])["certainAttendeeId"] == two["registration_code"]
    third = harness.rerun(first.run_id)
    assert third.counters == {} and len(sync_calls(sandbox, mark)) == 2  # and the ledger is settled


def test_progress_ends_with_the_total_walked(harness, sandbox):
    result = harness.run(KEY, {})
    with harness.read_factory() as s:
        run = s.get(JobRun, result.run_id)
        assert (run.progress_done, run.progress_total) == (ATTENDEES, ATTENDEES)  # no first pass counted it before
