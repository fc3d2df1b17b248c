"""Import Eloqua Contacts as Registrations when things go wrong (spec §7.4, §3.4): a worker dying
mid-export resumes at its bookmark in the same export, expired export data is exported again,
throttling and timeouts are retried, throttling that outlasts the retries ends the run so the next
one resumes, slow, stuck and failing syncs."""
from __future__ import annotations

from connectors import LeaseLost
from connectors_eloqua.jobs import import_contacts
from connectors_eloqua.jobs.import_contacts import REGISTRATIONS_KEY
from connectors_eloqua.sandbox import INVITEES_LIST

from .outbound_support import take_over
from .support import pod_calls

PARAMS = {"contact_list_name": INVITEES_LIST, "page_size": 100}
MEMBERS = 300
DATA = r"(?i)/api/bulk/2\.0/syncs/\d+/data"


def exports(sandbox):
    return pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/contacts/exports")


def live_definitions(sandbox):
    return [d for d in sandbox.bulk.definitions.values() if not d.deleted]


def die_on_page(monkeypatch, n):
    """The ``n``-th page kills the worker (as if the process died): what it did after the last
    commit is lost and the run stays ``running`` until its lease runs out."""
    real, pages = import_contacts.import_registrations, []

    def import_page(ctx, rows, params):
        pages.append(len(rows))
        if len(pages) == n:
            raise LeaseLost("worker killed")
        real(ctx, rows, params)

    monkeypatch.setattr(import_contacts, "import_registrations", import_page)
    return lambda: monkeypatch.setattr(import_contacts, "import_registrations", real)


def test_a_worker_dying_mid_export_resumes_at_its_bookmark_in_the_same_export(harness, sandbox, monkeypatch):
    revive = die_on_page(monkeypatch, 3)
    run_id = harness.submit(REGISTRATIONS_KEY, PARAMS)
    crashed = harness.execute(run_id)
    assert crashed.status == "running"
    bookmark = crashed.checkpoint
    assert (bookmark["offset"], bookmark["done"], bookmark["finished"]) == (200, 200, False)
    assert bookmark["export"]["sync"].startswith("/syncs/") and bookmark["export"]["definition"]
    assert len(harness.registrations()) == 200 and crashed.counters == {"created": 200}
    revive()
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    assert any(f"resuming export {bookmark['export']['sync']} after 200 contacts" in line["message"]
               for line in resumed.log)
    assert resumed.counters == {"created": MEMBERS}  # nothing twice, nothing lost
    assert len(exports(sandbox)) == 1 and len(harness.registrations()) == MEMBERS
    offsets = [c.param("offset") for c in pod_calls(sandbox, "GET", DATA)]
    assert offsets == ["0", "100", "200", "200"]  # the lost page is read again, the saved ones are not
    assert live_definitions(sandbox) == []


def test_expired_export_data_is_exported_again_and_the_contacts_already_imported_are_skipped(harness, sandbox,
                                                                                            monkeypatch):
    revive = die_on_page(monkeypatch, 2)
    run_id = harness.submit(REGISTRATIONS_KEY, PARAMS)
    assert harness.execute(run_id).checkpoint["offset"] == 100
    revive()
    sandbox.bulk.expire()  # the export's retention ran out before another worker took over
    result = take_over(harness, run_id)
    assert result.status == "succeeded", result.error
    assert any("is gone: exporting the same contacts again" in line["message"] for line in result.log)
    assert len(exports(sandbox)) == 2 and exports(sandbox)[1].body["filter"] == exports(sandbox)[0].body["filter"]
    assert result.counters == {"created": MEMBERS}  # each contact counted once
    assert len(harness.registrations()) == MEMBERS and live_definitions(sandbox) == []
    assert result.checkpoint["done"] == MEMBERS and result.checkpoint["taken"]


def test_throttling_and_timeouts_on_data_pages_are_retried(harness, sandbox, run_waits):
    sandbox.fail_next(2, 429, path=DATA, after=1)
    sandbox.fail_next(1, 503, path=DATA)
    result = harness.run(REGISTRATIONS_KEY, PARAMS)
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": MEMBERS}
    statuses = [c.status for c in pod_calls(sandbox, "GET", DATA)]
    assert statuses.count(429) == 2 and statuses.count(503) == 1
    assert len(run_waits) >= 3


def test_throttling_that_outlasts_the_retries_ends_quota_exhausted_and_the_next_run_resumes(harness, sandbox):
    sandbox.fail_next(6, 429, path=DATA, after=1)  # page 2 is refused on every attempt
    stopped = harness.run(REGISTRATIONS_KEY, PARAMS)
    assert stopped.status == "quota_exhausted", stopped.error
    assert stopped.error.startswith("429: Eloqua kept refusing calls as too many")
    assert stopped.checkpoint["offset"] == 100 and len(harness.registrations()) == 100
    assert len(live_definitions(sandbox)) == 1  # kept for the next run
    resumed = harness.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert any("resuming export" in line["message"] for line in resumed.log)
    assert stopped.counters["created"] + resumed.counters["created"] == MEMBERS
    assert len(exports(sandbox)) == 1 and live_definitions(sandbox) == []


def test_a_slow_sync_is_polled_with_growing_waits(harness, sandbox, run_waits):
    sandbox.bulk.faults.slow(pending_polls=3, active_polls=4)
    result = harness.run(REGISTRATIONS_KEY, PARAMS)
    assert result.status == "succeeded", result.error
    polls = pod_calls(sandbox, "GET", r"(?i)/api/bulk/2\.0/syncs/\d+")
    assert len(polls) >= 8
    assert run_waits[-1] > run_waits[0]


def test_a_stuck_sync_fails_at_the_deadline_and_leaves_nothing_behind(harness, sandbox, run_waits):
    sandbox.bulk.faults.stuck("active")
    result = harness.run(REGISTRATIONS_KEY, PARAMS)
    assert result.status == "failed" and result.error.startswith("sync_timeout: Eloqua's sync /syncs/")
    assert "still active after 6 h" in result.error and sum(run_waits) >= 6 * 3600
    assert harness.registrations() == [] and live_definitions(sandbox) == []


def test_a_sync_ending_in_error_fails_the_run_with_eloquas_codes(harness, sandbox):
    sandbox.bulk.faults.temporary_failure()
    result = harness.run(REGISTRATIONS_KEY, PARAMS)
    assert result.status == "failed" and "ELQ-00146" in result.error
    assert harness.registrations() == [] and live_definitions(sandbox) == []


def test_an_empty_page_with_has_more_is_asked_again(harness, sandbox):
    sandbox.bulk.faults.empty_page_once()
    result = harness.run(REGISTRATIONS_KEY, PARAMS)
    assert result.status == "succeeded" and result.counters == {"created": MEMBERS}
    assert [c.param("offset") for c in pod_calls(sandbox, "GET", DATA)] == ["0", "0", "100", "200"]


def test_a_worker_dying_as_its_export_sync_starts_resumes_that_sync(harness, sandbox, monkeypatch):
    from connectors_eloqua.client import EloquaClient  # noqa: PLC0415

    real_start = EloquaClient.start_sync

    def start_then_die(self, uri, callback_url=None):
        real_start(self, uri, callback_url)  # Eloqua started it; the worker died before saving it
        raise LeaseLost("worker killed")

    monkeypatch.setattr(EloquaClient, "start_sync", start_then_die)
    run_id = harness.submit(REGISTRATIONS_KEY, PARAMS)
    crashed = harness.execute(run_id)
    assert crashed.status == "running" and set(crashed.checkpoint["export"]) == {"definition", "filter"}
    monkeypatch.setattr(EloquaClient, "start_sync", real_start)
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": MEMBERS}
    assert len(exports(sandbox)) == 1 and len(pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/syncs")) == 1


def test_cancelling_stops_after_the_page_in_hand_and_deletes_the_export(harness, sandbox, monkeypatch):
    from connectors.db import transaction  # noqa: PLC0415
    from connectors.jobs.runs import request_cancel  # noqa: PLC0415
    from connectors.models import JobRun  # noqa: PLC0415

    real = import_contacts.import_registrations
    run_id = harness.submit(REGISTRATIONS_KEY, PARAMS)

    def import_then_cancel(ctx, rows, params):
        with transaction(harness.factory) as s:  # the user presses Cancel as the first page comes in
            request_cancel(s, s.get(JobRun, run_id))
        real(ctx, rows, params)

    monkeypatch.setattr(import_contacts, "import_registrations", import_then_cancel)
    result = harness.execute(run_id)
    assert result.status == "cancelled" and result.counters == {"created": 100}
    assert result.checkpoint["offset"] == 100 and not result.checkpoint["finished"]
    assert len(harness.registrations()) == 100 and live_definitions(sandbox) == []
