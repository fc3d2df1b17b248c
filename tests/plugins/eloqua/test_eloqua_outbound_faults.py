"""The outbound Eloqua jobs under the faults of spec §7.4: 429 without Retry-After, 503, uploads
whose answer is lost, slow, failing and stuck syncs, throttling past the retries, and access
tokens that expire mid-run. Each job must end with every registration sent once."""
from __future__ import annotations

import pytest

from connectors_eloqua.client import EloquaClient
from connectors_eloqua.jobs import create_update_contacts, engagement, interest
from connectors_eloqua.sandbox import ENGAGEMENT_OBJECT

from .outbound_support import ATTENDEES, imports, seed_attendees, uploaded_rows
from .support import login_calls

CONTACTS, ENGAGEMENT, INTEREST = create_update_contacts.KEY, engagement.KEY, interest.KEY
DATA = r"(?i)/api/bulk/2\.0/(contacts|customObjects/\d+)/imports/\d+/data"
SYNC_STATUS = r"(?i)/api/bulk/2\.0/syncs/\d+"
REJECTS = r"(?i)/api/bulk/2\.0/syncs/\d+/rejects"


@pytest.fixture
def harness(harness):
    seed_attendees(harness)
    return harness


def contacts_first(harness, key):
    """The metrics jobs link to contacts: make them first (outside the faults)."""
    if key != CONTACTS:
        assert harness.run(CONTACTS, {}).status == "succeeded"


def sent_once(sandbox, key, mark=0):
    rows = uploaded_rows(sandbox, DATA)[mark:]
    column = {CONTACTS: "C_EmailAddress", ENGAGEMENT: "EngagementKey", INTEREST: "InterestKey"}[key]
    keys = [r[column] for r in rows]
    return len(keys) == len(set(keys)), len(keys)


@pytest.mark.parametrize("key", [CONTACTS, ENGAGEMENT, INTEREST])
def test_429_without_retry_after_and_503_are_retried(harness, sandbox, run_waits, key):
    contacts_first(harness, key)
    mark, waited = len(uploaded_rows(sandbox, DATA)), len(run_waits)
    sandbox.fail_next(2, 429, path=SYNC_STATUS)
    sandbox.fail_next(1, 503, path=SYNC_STATUS, after=1)
    result = harness.run(key, {"incremental": False, "batch_size": 60})
    assert result.status == "succeeded", result.error
    assert set(result.counters) <= {"created", "updated"} and "failed" not in result.counters
    once, count = sent_once(sandbox, key, mark)
    assert once and count == sum(result.counters.values())
    refused = [c.status for c in sandbox.journal.filter("GET", SYNC_STATUS) if c.status in (429, 503)]
    assert refused == [429, 429, 503]  # each refusal was waited out and the poll asked again
    assert len(run_waits) - waited >= 3


@pytest.mark.parametrize("key", [CONTACTS, ENGAGEMENT])
def test_an_upload_whose_answer_is_lost_is_not_imported_twice(harness, sandbox, key):
    contacts_first(harness, key)
    uploads, clears = sandbox.journal.count("POST", DATA), sandbox.journal.count("DELETE", DATA)
    sandbox.fail_next(1, 503, path=DATA, after_effect=True)  # staged, but the client hears 503
    result = harness.run(key, {"incremental": False})
    assert result.status == "succeeded", result.error
    assert sum(result.counters.values()) == ATTENDEES and "failed" not in result.counters
    # staged twice: the staging area was cleared before the batch went again
    assert sandbox.journal.count("POST", DATA) - uploads == 2 and sandbox.journal.count("DELETE", DATA) - clears == 1
    assert sandbox.journal.count("GET", REJECTS) == 0  # no duplicate identifier reached the sync
    if key == ENGAGEMENT:
        assert len(sandbox.custom_object_records(sandbox.find_custom_object(ENGAGEMENT_OBJECT))) == ATTENDEES


def test_slow_syncs_are_polled_with_growing_waits(harness, sandbox, run_waits):
    sandbox.bulk.faults.slow(pending_polls=4, active_polls=5)
    result = harness.run(CONTACTS, {})
    assert result.status == "succeeded" and result.counters == {"created": ATTENDEES}
    first_sync = sandbox.journal.filter("GET", SYNC_STATUS)[0].path
    assert sandbox.journal.count("GET", first_sync) >= 9  # 4 polls pending, 5 active, then done
    assert run_waits[4] >= 8 * run_waits[0]  # the waits between polls double (with jitter)


@pytest.mark.parametrize("key", [CONTACTS, ENGAGEMENT])
def test_a_sync_ending_in_error_fails_its_batch_only(harness, sandbox, key):
    contacts_first(harness, key)
    sandbox.bulk.faults.error()
    result = harness.run(key, {"batch_size": 50, "incremental": False})
    assert result.status == "partially_failed", result.error
    assert result.counters["failed"] == 50 and sum(result.counters.values()) == ATTENDEES
    assert {(r["code"], r["stage"]) for r in result.records} == {("ELQ-00122", "load")}
    assert all("ended in error" in r["message"] for r in result.records)


def test_a_stuck_sync_ends_the_run_at_the_polling_deadline(harness, sandbox, run_waits):
    sandbox.bulk.faults.stuck()
    result = harness.run(CONTACTS, {})
    assert result.status == "failed" and result.error.startswith("sync_timeout")
    assert "still active" in result.error and "sends them again" in result.error
    assert sum(run_waits) >= 6 * 3600  # the default deadline, on the fake clock


def test_throttling_past_the_retries_stops_the_run_and_the_next_run_goes_on(harness, sandbox):
    # three status polls per sync: the first batch's import and id export pass, the second batch's
    # import meets 429 on every retry
    sandbox.fail_next(6, 429, path=SYNC_STATUS, after=6)
    stopped = harness.run(CONTACTS, {"batch_size": 50, "incremental": False})
    assert stopped.status == "quota_exhausted" and stopped.error.startswith("429")
    assert stopped.counters == {"created": 50} and stopped.checkpoint["pending"]
    resumed = harness.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert any("which Eloqua's throttling stopped" in line["message"] for line in resumed.log)
    assert resumed.counters == {"created": ATTENDEES - 50}
    assert len(imports(sandbox)) == 3 and sent_once(sandbox, CONTACTS) == (True, ATTENDEES)


def test_access_tokens_expiring_mid_run_are_refreshed(harness, sandbox, monkeypatch):
    harness.configure("eloqua", sandbox.oauth_connection())
    real, calls = EloquaClient.start_sync, []

    def expire_before_the_second_sync(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            sandbox.expire_access_tokens()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EloquaClient, "start_sync", expire_before_the_second_sync)
    before = len(login_calls(sandbox, "POST", r"(?i)/auth/oauth2/token"))
    result = harness.run(CONTACTS, {"batch_size": 50})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    refreshes = login_calls(sandbox, "POST", r"(?i)/auth/oauth2/token")[before:]
    assert len(refreshes) >= 2  # the first token, and a new one after the expiry
    assert sandbox.journal.count(status=401) >= 1
