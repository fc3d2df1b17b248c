"""Every fault the sandbox can inject that a job can meet (spec §7 "Fault injection", §8 last
paragraph), met by a REAL job run through core's Harness. Each test checks (i) how the run ends —
status, counters, per-record problems with their codes — and (ii) that nothing was lost or done
twice: registrations/profiles equal the expected set; Marketo's leads have no duplicate e-mail
and no key went out in two overlapping Sync Leads calls (``sandbox.overlapping_upserts()``);
campaign runs hold each lead once per ledger state; one custom-object record per dedupe key.

Nothing really waits: the client's backoff goes to ``RUN_CLIENT_OPTIONS["sleep"]`` (conftest's
``no_real_sleep`` or a hook here), the bulk exporter's waits move the sandbox's bulk clock
(``BULK_OPTIONS``), rate windows run on a ``FakeClock``; only the read-timeout tests spend real
fractions of a second.

Fault → test (modules of tests/plugins/marketo/, "import_bulk" = test_marketo_import_bulk.py;
"client:" = the client alone, the others run a job; this file's tests in the last column)

| fault (spec §7) | already proven elsewhere | here |
|---|---|---|
| 606 burst mid-run | import_registrations::test_transient_failures_between_pages_are_retried (REST import, 606×2 between pages); client: test_marketo_client::test_606_waits_for_the_rate_window_then_succeeds, ::test_606_that_outlasts_the_retries_is_quota_exhausted; test_marketo_ratelimit::test_606_injected_mid_run_waits_for_the_rest_of_the_window, ::test_a_burst_of_250_calls_from_many_threads_gets_no_606 | test_606_burst_on_a_sync_chunk_waits_out_the_window_and_sends_each_lead_once, test_606_outlasting_the_retries_ends_quota_exhausted_and_the_next_run_resumes, test_a_real_rate_window_is_waited_out_and_each_lead_requested_once |
| 615 under concurrency | client: test_marketo_ratelimit::test_615_under_concurrency_is_retried_with_backoff, ::test_concurrent_runs_never_exceed_the_shared_concurrency_cap; test_marketo_faults::test_a_campaign_request_refused_before_running_is_retried | test_615_while_another_integration_fills_the_instance_is_retried_and_requests_once |
| 607 mid-run, next run resumes and completes | create_update_leads::test_quota_exhausted_mid_run_resumes_on_the_next_run; trigger_campaign::test_quota_exhausted_mid_run_resumes_without_requesting_twice; import_registrations::test_quota_exhausted_ends_the_run_with_its_own_code; import_profiles::test_quota_exhausted_mid_run_resumes_on_the_next_run; metrics::test_quota_exhausted_mid_upload_resumes_on_the_next_run; (bulk 1029) import_bulk::test_export_quota_ends_quota_exhausted_and_the_next_run_resumes_the_export | test_engagement_607_mid_upload_resumes_with_one_record_per_key (the engagement job; the others are above) |
| token expiry between two pages | import_registrations::test_token_expiring_mid_run_is_refreshed (a scripted 602 envelope); client: test_marketo_client::test_expired_token_602_is_refreshed_and_the_request_replayed, test_marketo_bulk::test_expired_token_during_download_is_refreshed | test_token_expiring_between_two_pages_is_renewed_and_no_page_is_lost (the token really expires), test_bulk_import_survives_token_expiry_between_polls_and_revocation_before_the_file |
| token revocation | client: test_marketo_client::test_revoked_token_601_is_refreshed_and_the_request_replayed, ::test_token_refused_twice_is_not_replayed_again | test_token_revoked_between_two_sync_chunks_is_renewed_without_duplicates, test_bulk_import_survives_token_expiry_between_polls_and_revocation_before_the_file |
| 604 / 608 / 611 / 713 | client: test_marketo_faults::test_each_transient_envelope_code_is_retried, ::test_611_is_retried_only_a_few_times | test_transient_codes_on_a_sync_chunk_are_retried_without_duplicates[604,608,611,713], test_611_that_does_not_heal_fails_the_run_and_the_rerun_completes, test_transient_codes_on_a_campaign_request[604,608,611,713] |
| HTTP 500 / 502 / 503 with an HTML body | create_update_leads::test_a_chunk_retried_after_a_5xx_creates_no_duplicates (502); import_registrations::test_failure_mid_run_keeps_saved_pages_and_a_rerun_completes (500×5); client: test_marketo_faults::test_http_5xx_with_an_html_body_is_retried, ::test_a_campaign_request_is_not_replayed_when_marketo_may_have_run_it | test_html_5xx_on_a_custom_object_chunk_is_retried_one_record_per_key[500,502,503], test_html_503_on_a_campaign_request_fails_the_run_and_the_rerun_requests_each_lead_once |
| dropped connection / truncated body on a write | client (a read): test_marketo_faults::test_connection_reset_is_retried, ::test_truncated_body_is_retried | test_dropped_connection_on_a_sync_chunk_is_retried_without_duplicates, test_truncated_answer_to_a_sync_chunk_is_replayed_as_updates, test_truncated_answer_to_a_custom_object_chunk_is_replayed_as_updates, test_lost_answer_to_a_campaign_request[drop, truncate] |
| latency beyond the read timeout (bounded hang) | client: test_marketo_faults::test_a_hanging_call_times_out_and_is_retried, test_marketo_client::test_read_timeout_is_retried_then_reported | test_a_page_that_hangs_is_abandoned_at_the_read_timeout_and_retried, test_pages_slower_than_the_read_timeout_fail_the_run_in_bounded_time_and_the_rerun_resumes |
| bulk export stays Queued (deadline) | client: test_marketo_bulk::test_export_stuck_in_queue_ends_at_the_deadline, ::test_export_held_for_some_polls_then_moves_on, ::test_resume_waits_for_an_export_still_running | test_bulk_export_stuck_in_queue_fails_at_the_deadline_and_the_rerun_exports_again |
| bulk export Failed | client: test_marketo_bulk::test_failed_export_is_a_clear_error, ::test_resume_of_a_failed_export_starts_over | test_failed_bulk_export_fails_the_run_and_the_rerun_exports_again |
| bulk file 404 after "Completed" | client: test_marketo_bulk::test_completed_but_404_is_probed_then_downloaded, ::test_a_file_that_never_appears_is_gone | test_bulk_file_404_after_completed_is_probed_then_imported, test_bulk_file_that_never_appears_fails_and_the_rerun_exports_again |
| bulk file truncated (checksum, Range resume) | client: test_marketo_bulk::test_truncated_file_is_resumed_with_range_and_verified, ::test_dropped_connection_is_resumed, ::test_wrong_bytes_start_the_download_over, ::test_checksum_that_never_matches_is_an_error | test_truncated_corrupt_and_dropped_bulk_files_are_resumed_and_verified |
| (also) bulk 1029 queue/quota, dirty CSV, crash inside an export | import_bulk::test_export_quota_ends_quota_exhausted_and_the_next_run_resumes_the_export, ::test_a_misaligned_row_is_reported_and_counted_as_read, ::test_crash_mid_import_resumes_in_the_same_export_after_rows_done; client: test_marketo_bulk::test_full_queue_is_retried_a_few_times_then_reported, ::test_dirty_csv_is_parsed_right | — |
"""
from __future__ import annotations

import re
import time
from collections import Counter

import pytest

import connectors_marketo.plugin as plugin
from connectors.testing import Harness
from connectors_marketo.jobs import create_update_leads, engagement, import_registrations, trigger_campaign
from connectors_marketo.jobs.common import RUN_CLIENT_OPTIONS
from connectors_marketo.jobs.import_registrations import BULK_OPTIONS, BULK_WAIT
from connectors_marketo.sandbox import INVITEES_LIST

from .outbound_support import ATTENDEES, sent, sync_calls
from .test_marketo_import_registrations import expected
from .test_marketo_metrics import add_leads_for, deploy_engagement_object, expected_engagement, stored
from .test_marketo_metrics import make_harness as metrics_harness

SYNC = r"/rest/v1/leads\.json"
TRIGGER = r"/rest/v1/campaigns/\d+/trigger\.json"
MEMBERS = r"/rest/v1/lists/\d+/leads\.json"
ENGAGEMENT_OBJECT = "certainEngagement_c"
UPSERT = rf"/rest/v1/customobjects/{ENGAGEMENT_OBJECT}\.json"
EXPORT = r"/bulk/v1/leads/export"
STATUS, FILE = EXPORT + r"/[^/]+/status\.json", EXPORT + r"/[^/]+/file\.json"
IMPORT = import_registrations.KEY
INVITEES = {"static_list_name": INVITEES_LIST, "page_size": 100}
BULK = {"static_list_name": INVITEES_LIST, "mode": "bulk"}
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the bulk clock's start


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def outbound(programme_harness):
    """The test event with ATTENDEES (320) registrations: two Sync Leads chunks, four campaign chunks."""
    return programme_harness


@pytest.fixture
def campaign(sandbox):
    return sandbox.add_campaign("SUMMIT26 Reminder")


@pytest.fixture
def with_leads(outbound):
    """Every registration already has its Marketo lead (Create or Update Leads ran)."""
    assert outbound.run(create_update_leads.KEY, {}).counters == {"created": ATTENDEES}
    return outbound


@pytest.fixture
def inbound(tmp_path, sandbox):
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    yield h
    h.close()


@pytest.fixture
def metrics(tmp_path, sandbox):
    """40 registrations whose leads carry their attendee id, and the engagement object deployed."""
    deploy_engagement_object(sandbox)
    h = metrics_harness(tmp_path, sandbox)
    add_leads_for(sandbox, h.registrations())
    yield h
    h.close()


@pytest.fixture
def bulk(monkeypatch, sandbox):
    """The bulk clock moves only when the exporter waits; an export takes some polls."""
    engine = sandbox.bulk
    engine.clock = lambda: T0
    engine.queue_seconds, engine.processing_seconds = 60, 120
    monkeypatch.setitem(BULK_OPTIONS, "sleep", engine.advance)
    monkeypatch.setitem(BULK_OPTIONS, "clock", engine.now)
    return engine


# -- helpers -------------------------------------------------------------------------------------
def after_served(monkeypatch, sandbox, path, action, n=1, when=None):
    """Run ``action()`` once, right after the sandbox gave its ``n``-th good answer to a call whose
    path matches ``path`` (and that ``when(response)`` accepts): something happens between two
    calls of a job, without touching the job."""
    real, seen = sandbox._rest, []

    def rest(request):
        response = real(request)
        if (re.fullmatch(path, request.path) and response.status == 200 and not response.codes
                and (when is None or when(response))):
            seen.append(request.path)
            if len(seen) == n:
                action()
        return response

    monkeypatch.setattr(sandbox, "_rest", rest)


def codes(sandbox, method, path):
    return [c.codes for c in sandbox.journal.filter(method, path)]


def identity_tokens(sandbox):
    return [e.response["access_token"] for e in sandbox.journal.filter(path="/identity/oauth/token")]


def assert_leads_sent_once(sandbox, h, before):
    """One Marketo lead per registration: none lost, no e-mail twice, no key in two overlapping
    Sync Leads calls, and each profile linked to the lead with its e-mail."""
    leads = sandbox.leads
    assert len(leads) == before + ATTENDEES
    by_email = Counter((lead.get("email") or "").lower() for lead in leads)
    registrations = h.registrations()
    assert {by_email[r["email"].lower()] for r in registrations} == {1}
    assert sandbox.overlapping_upserts() == set()
    by_id = {lead["id"]: lead for lead in leads}
    profiles = {p["id"]: p for p in h.profiles()}
    linked = [profiles[r["profile_id"]]["external_ids"].get("marketo_lead_id") for r in registrations]
    assert all(linked) and len(set(linked)) == len(linked) == ATTENDEES
    for r, lead_id in zip(registrations, linked):
        assert by_id[int(lead_id)]["email"].lower() == r["email"].lower()


def lead_ids(h):
    return {p["email"]: int(p["external_ids"]["marketo_lead_id"]) for p in h.profiles()
            if p["external_ids"].get("marketo_lead_id")}


def requested(sandbox):
    return Counter(lead for run in sandbox.campaign_runs for lead in run.lead_ids)


def assert_each_lead_requested_once(sandbox, h):
    """Each registration's lead is in exactly one campaign run (one ledger state per registration)."""
    assert requested(sandbox) == Counter(lead_ids(h).values())
    assert len(lead_ids(h)) == ATTENDEES


def assert_one_record_per_key(sandbox, h):
    """One custom-object record per (attendeeId, eventCode), holding the registration's figures."""
    records = stored(sandbox, ENGAGEMENT_OBJECT)
    assert set(Counter((r["attendeeId"], r["eventCode"]) for r in records).values()) == {1}
    assert {r["attendeeId"]: r for r in records} == expected_engagement(h)


def importable_ids(sandbox):
    """Lead ids of the invitees that become registrations: with an e-mail, the first of each e-mail."""
    seen, ids = set(), set()
    for lead_id in sandbox.list_members(sandbox.find_list(INVITEES_LIST)["id"]):
        email = (sandbox.get_lead(lead_id).get("email") or "").lower()
        if email and email not in seen:
            ids.add(lead_id)
        seen.add(email)
    return ids


def assert_invitees_imported(h, sandbox):
    """The importable invitees, each exactly once: one profile and one registration per lead."""
    want = importable_ids(sandbox)
    profiles = {p["id"]: p for p in h.profiles()}
    got = Counter(int(profiles[r["profile_id"]]["external_ids"]["marketo_lead_id"]) for r in h.registrations())
    assert got == Counter(want)
    assert len(profiles) == len(want)


def import_outcome(result, sandbox):
    """What a complete import of the invitees records: created, and the usual skips with their codes."""
    importable, no_email, duplicates = expected(sandbox)
    assert result.counters == {"created": importable, "skipped": len(no_email) + len(duplicates)}
    assert Counter(r["code"] for r in result.records) == {"missing_required": len(no_email),
                                                           "duplicate": len(duplicates)}


def creates(sandbox):
    return sandbox.journal.filter("POST", EXPORT + r"/create\.json")


# -- 606: rate limit ------------------------------------------------------------------------------
def test_606_burst_on_a_sync_chunk_waits_out_the_window_and_sends_each_lead_once(outbound, sandbox, no_real_sleep):
    before = len(sandbox.leads)
    sandbox.fail_next(3, code=606, path=SYNC, after=1)  # the second chunk meets a full window three times
    result = outbound.run(create_update_leads.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES} and result.records == []
    assert codes(sandbox, "POST", SYNC) == [(), ("606",), ("606",), ("606",), ()]
    assert len(no_real_sleep) == 3 and min(no_real_sleep) >= 18  # the rest of Marketo's 20 s window each time
    assert_leads_sent_once(sandbox, outbound, before)


def test_606_outlasting_the_retries_ends_quota_exhausted_and_the_next_run_resumes(outbound, sandbox):
    before = len(sandbox.leads)
    sandbox.fail_next(5, code=606, path=SYNC, after=1)  # every attempt at the second chunk
    stopped = outbound.run(create_update_leads.KEY, {})
    assert stopped.status == "quota_exhausted" and "606" in stopped.error
    assert stopped.counters == {"created": 300} and stopped.checkpoint["sent"] == 300
    resumed = outbound.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": ATTENDEES - 300}
    emails = sent(sync_calls(sandbox))
    assert len(emails) == len(set(emails)) == ATTENDEES  # nothing sent twice
    assert_leads_sent_once(sandbox, outbound, before)


def test_a_real_rate_window_is_waited_out_and_each_lead_requested_once(with_leads, sandbox, campaign, clock,
                                                                       monkeypatch):
    sandbox.rate_window.clock = clock  # Marketo's sliding window, on the test's clock...
    sandbox.rate_window.reset()
    sandbox.set_rate_limit(3, 20.0)  # ...with room for 3 calls only
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "clock", clock)
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "sleep", clock.sleep)  # waiting moves that clock
    result = with_leads.run(trigger_campaign.KEY, {"campaign_id": campaign["id"]})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    refused = sandbox.journal.count(code="606")
    assert refused >= 2 and len(clock.sleeps) == refused and min(clock.sleeps) >= 19
    assert [len(run.lead_ids) for run in sandbox.campaign_runs] == [100, 100, 100, 20]
    assert_each_lead_requested_once(sandbox, with_leads)


# -- 615: concurrency ---------------------------------------------------------------------------
def test_615_while_another_integration_fills_the_instance_is_retried_and_requests_once(with_leads, sandbox, campaign,
                                                                                      monkeypatch):
    """After the first campaign request another integration takes the instance's only slot; our
    calls get 615 until its call ends, during our second backoff."""
    waits = []

    def other_integration_starts():
        sandbox.concurrency_limit = None
        sandbox.in_flight.enter()  # its call is in flight (ours still is too, for a moment)
        sandbox.concurrency_limit = 1

    def backoff(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            sandbox.in_flight.leave()  # its call ends

    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "sleep", backoff)
    after_served(monkeypatch, sandbox, TRIGGER, other_integration_starts)
    result = with_leads.run(trigger_campaign.KEY, {"campaign_id": campaign["id"]})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES} and result.records == []
    assert codes(sandbox, "POST", TRIGGER) == [(), ("615",), ("615",), (), (), ()]
    assert len(waits) == 2 and 0.5 <= waits[0] <= waits[1]  # backoff that grows
    assert_each_lead_requested_once(sandbox, with_leads)


# -- 607: daily quota (the other jobs: see the table) -----------------------------------------------
def test_engagement_607_mid_upload_resumes_with_one_record_per_key(tmp_path, sandbox):
    deploy_engagement_object(sandbox)
    h = metrics_harness(tmp_path, sandbox, attendees=ATTENDEES)  # two upserts: 300 + 20
    try:
        add_leads_for(sandbox, h.registrations())
        sandbox.fail_next(1, code=607, path=UPSERT, after=1)
        stopped = h.run(engagement.KEY, {})
        assert stopped.status == "quota_exhausted" and "607" in stopped.error
        assert stopped.counters == {"created": 300} and stopped.checkpoint["done"] == 300
        resumed = h.rerun(stopped.run_id)
        assert resumed.status == "succeeded", resumed.error
        assert resumed.counters == {"unchanged": 300, "created": ATTENDEES - 300}  # the ledger sends nothing twice
        assert [len(c.body["input"]) for c in sandbox.journal.filter("POST", UPSERT) if not c.codes] == [300, 20]
        assert_one_record_per_key(sandbox, h)
    finally:
        h.close()


# -- tokens ----------------------------------------------------------------------------------------
def test_token_expiring_between_two_pages_is_renewed_and_no_page_is_lost(inbound, sandbox, monkeypatch):
    after_served(monkeypatch, sandbox, MEMBERS, sandbox.expire_token, n=2)  # it runs out after page 2
    result = inbound.run(IMPORT, INVITEES)
    assert result.status == "succeeded", result.error
    import_outcome(result, sandbox)
    pages = sandbox.journal.filter("GET", MEMBERS)
    assert [p.codes for p in pages] == [(), (), ("602",), (), (), (), ()]
    assert pages[2].param("nextPageToken") == pages[3].param("nextPageToken")  # the same page, asked again
    assert pages[2].header("Authorization") != pages[3].header("Authorization")
    first, second = identity_tokens(sandbox)
    assert first != second and pages[3].header("Authorization") == f"Bearer {second}"
    assert_invitees_imported(inbound, sandbox)


def test_token_revoked_between_two_sync_chunks_is_renewed_without_duplicates(outbound, sandbox, monkeypatch):
    before = len(sandbox.leads)
    after_served(monkeypatch, sandbox, SYNC, sandbox.revoke_token)
    result = outbound.run(create_update_leads.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    assert codes(sandbox, "POST", SYNC) == [(), ("601",), ()]  # 601: not carried out, so replayed once
    assert len(set(identity_tokens(sandbox))) == 2
    assert_leads_sent_once(sandbox, outbound, before)


def test_bulk_import_survives_token_expiry_between_polls_and_revocation_before_the_file(inbound, sandbox, bulk,
                                                                                        monkeypatch):
    def wait(seconds):
        bulk.advance(seconds)
        if not waited:
            sandbox.expire_token()  # the token runs out while we wait for the export
        waited.append(seconds)

    waited = []
    monkeypatch.setitem(BULK_OPTIONS, "sleep", wait)
    after_served(monkeypatch, sandbox, STATUS, sandbox.revoke_token,
                 when=lambda response: b'"Completed"' in response.body)  # and is revoked before the download
    result = inbound.run(IMPORT, BULK)
    assert result.status == "succeeded", result.error
    import_outcome(result, sandbox)
    polls = codes(sandbox, "GET", STATUS)
    assert polls.count(("602",)) == 1 and polls.count(("601",)) == 1 and polls[-1] == ()
    assert codes(sandbox, "GET", FILE) == [("601",), ()]  # refused, then fetched with a new token
    assert len(set(identity_tokens(sandbox))) == 3 and len(creates(sandbox)) == 1
    assert_invitees_imported(inbound, sandbox)


# -- 604 / 608 / 611 / 713: response-level transient errors ---------------------------------------------
@pytest.mark.parametrize("code", ["604", "608", "611", "713"])
def test_transient_codes_on_a_sync_chunk_are_retried_without_duplicates(outbound, sandbox, no_real_sleep, code):
    before = len(sandbox.leads)
    sandbox.fail_next(1, code=code, path=SYNC, after=1)
    result = outbound.run(create_update_leads.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES} and result.records == []
    assert codes(sandbox, "POST", SYNC) == [(), (code,), ()] and len(no_real_sleep) == 1
    assert_leads_sent_once(sandbox, outbound, before)


def test_611_that_does_not_heal_fails_the_run_and_the_rerun_completes(outbound, sandbox):
    before = len(sandbox.leads)
    sandbox.fail_next(3, code=611, path=SYNC, after=1)  # 611 gets three attempts, not five
    failed = outbound.run(create_update_leads.KEY, {})
    assert failed.status == "failed" and failed.error.startswith("611")
    assert failed.counters == {"created": 300}
    assert codes(sandbox, "POST", SYNC) == [(), ("611",), ("611",), ("611",)]
    again = outbound.rerun(failed.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters == {"created": ATTENDEES - 300}  # the first chunk is in the ledger
    emails = sent(sync_calls(sandbox))
    assert len(emails) == len(set(emails)) == ATTENDEES
    assert_leads_sent_once(sandbox, outbound, before)


@pytest.mark.parametrize("code", ["604", "608", "611", "713"])
def test_transient_codes_on_a_campaign_request(with_leads, sandbox, campaign, code):
    """6xx codes say "not executed", so a campaign request is replayed; 713 does not say so, and a
    campaign that may have run is never requested again by the same run (it could e-mail twice)."""
    sandbox.fail_next(1, code=code, path=TRIGGER, after=1)
    first = with_leads.run(trigger_campaign.KEY, {"campaign_id": campaign["id"]})
    if code != "713":
        assert first.status == "succeeded", first.error
        assert first.counters == {"created": ATTENDEES}
        assert codes(sandbox, "POST", TRIGGER) == [(), (code,), (), (), ()]
    else:
        assert first.status == "failed" and first.error.startswith("713") and "not retried" in first.error
        assert first.counters == {"created": 100} and codes(sandbox, "POST", TRIGGER) == [(), ("713",)]
        second = with_leads.rerun(first.run_id)
        assert second.status == "succeeded", second.error
        assert second.counters == {"created": ATTENDEES - 100}
    assert_each_lead_requested_once(sandbox, with_leads)


# -- HTTP 5xx with an HTML body ------------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 502, 503])
def test_html_5xx_on_a_custom_object_chunk_is_retried_one_record_per_key(metrics, sandbox, no_real_sleep, status):
    sandbox.fail_next(1, http_status=status, path=UPSERT)
    result = metrics.run(engagement.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": 40} and result.records == []
    first, second = sandbox.journal.filter("POST", UPSERT)
    assert first.status == status and first.response.startswith("<html>") and second.status == 200
    assert len(no_real_sleep) == 1
    assert_one_record_per_key(sandbox, metrics)


def test_html_503_on_a_campaign_request_fails_the_run_and_the_rerun_requests_each_lead_once(with_leads, sandbox,
                                                                                           campaign):
    sandbox.fail_next(1, http_status=503, path=TRIGGER, after=2)
    failed = with_leads.run(trigger_campaign.KEY, {"campaign_id": campaign["id"]})
    assert failed.status == "failed" and failed.error.startswith("503") and "not retried" in failed.error
    assert failed.counters == {"created": 200}
    assert [c.status for c in sandbox.journal.filter("POST", TRIGGER)] == [200, 200, 503]
    again = with_leads.rerun(failed.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters == {"created": ATTENDEES - 200}
    assert_each_lead_requested_once(sandbox, with_leads)


# -- dropped connection / truncated body on a write ----------------------------------------------------
def test_dropped_connection_on_a_sync_chunk_is_retried_without_duplicates(outbound, sandbox, no_real_sleep):
    before = len(sandbox.leads)
    sandbox.fail_next(1, drop_connection=True, path=SYNC)
    result = outbound.run(create_update_leads.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    assert codes(sandbox, "POST", SYNC) == [("reset",), (), ()] and len(no_real_sleep) == 1
    assert_leads_sent_once(sandbox, outbound, before)


def test_truncated_answer_to_a_sync_chunk_is_replayed_as_updates(outbound, sandbox):
    """Marketo carried the first chunk out, but its answer was cut: the replay finds the 300 leads
    it created and updates them — nothing created twice."""
    before = len(sandbox.leads)
    sandbox.fail_next(1, truncate=True, path=SYNC)
    result = outbound.run(create_update_leads.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"updated": 300, "created": ATTENDEES - 300}
    assert codes(sandbox, "POST", SYNC) == [("truncated",), (), ()]
    assert_leads_sent_once(sandbox, outbound, before)


def test_truncated_answer_to_a_custom_object_chunk_is_replayed_as_updates(metrics, sandbox):
    sandbox.fail_next(1, truncate=True, path=UPSERT)
    result = metrics.run(engagement.KEY, {})
    assert result.status == "succeeded", result.error
    assert result.counters == {"updated": 40}  # the cut call had created them
    assert codes(sandbox, "POST", UPSERT) == [("truncated",), ()]
    assert_one_record_per_key(sandbox, metrics)


@pytest.mark.parametrize("fault, code", [("drop_connection", "connection"), ("truncate", "invalid-body")])
def test_lost_answer_to_a_campaign_request(with_leads, sandbox, campaign, fault, code):
    """A campaign request whose answer is lost is not replayed: the run fails and the chunk stays
    out of the ledger. The next run requests it (a dropped call never ran, so once in all; a cut
    answer came from a run that happened, so that chunk twice — the documented at-least-once
    window of trigger_campaign.py); everything committed is requested once, and a third run
    requests nothing."""
    sandbox.fail_next(1, path=TRIGGER, after=1, **{fault: True})
    failed = with_leads.run(trigger_campaign.KEY, {"campaign_id": campaign["id"]})
    assert failed.status == "failed" and failed.error.startswith(code) and "not retried" in failed.error
    assert failed.counters == {"created": 100}
    again = with_leads.rerun(failed.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters == {"created": ATTENDEES - 100}
    runs = sandbox.campaign_runs
    everyone = Counter(lead_ids(with_leads).values())
    if fault == "drop_connection":
        assert_each_lead_requested_once(sandbox, with_leads)
    else:
        assert runs[1].lead_ids == runs[2].lead_ids  # the cut one, and its request by the next run
        assert requested(sandbox) == everyone + Counter(runs[1].lead_ids)
    count = len(sandbox.campaign_runs)
    assert with_leads.rerun(failed.run_id).counters == {} and len(sandbox.campaign_runs) == count


# -- latency beyond the read timeout --------------------------------------------------------------------
def test_a_page_that_hangs_is_abandoned_at_the_read_timeout_and_retried(inbound, sandbox, monkeypatch, no_real_sleep):
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "timeout", (2.0, 0.3))
    sandbox.hang_next(1, seconds=20, path=MEMBERS, after=2)  # page 3 gets no answer at all
    started = time.monotonic()
    try:
        result = inbound.run(IMPORT, INVITEES)
    finally:
        sandbox.release_hangs()
    assert time.monotonic() - started < 5  # one read timeout, not the 20 s hang
    assert result.status == "succeeded", result.error
    import_outcome(result, sandbox)
    assert len(no_real_sleep) == 1
    assert_invitees_imported(inbound, sandbox)


def test_pages_slower_than_the_read_timeout_fail_the_run_in_bounded_time_and_the_rerun_resumes(inbound, sandbox,
                                                                                              monkeypatch,
                                                                                              no_real_sleep):
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "timeout", (2.0, 0.2))
    after_served(monkeypatch, sandbox, MEMBERS, lambda: sandbox.set_latency(0.6, path=MEMBERS), n=2)  # from page 3
    started = time.monotonic()
    failed = inbound.run(IMPORT, INVITEES)
    assert time.monotonic() - started < 5  # five read timeouts, then it gives up
    assert failed.status == "failed" and failed.error.startswith("connection")
    assert len(no_real_sleep) == 4 and failed.checkpoint["done"] == 200
    assert len(inbound.registrations()) == failed.counters["created"] > 0  # the two pages read are kept
    sandbox.set_latency(0, path=MEMBERS)
    again = inbound.rerun(failed.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters["unchanged"] == failed.counters["created"]
    assert_invitees_imported(inbound, sandbox)


# -- bulk exports ------------------------------------------------------------------------------------------
def test_bulk_export_stuck_in_queue_fails_at_the_deadline_and_the_rerun_exports_again(inbound, sandbox, bulk,
                                                                                      monkeypatch):
    monkeypatch.setitem(BULK_WAIT, "deadline", 1800.0)
    bulk.faults.stay_queued()
    started = bulk.now()
    stuck = inbound.run(IMPORT, BULK)
    assert stuck.status == "failed" and stuck.error.startswith("bulk-timeout") and "Queued" in stuck.error
    assert bulk.now() - started == 1800 and inbound.registrations() == []
    assert len(codes(sandbox, "GET", STATUS)) < 15  # polls back off
    stuck_id = sandbox.journal.filter("POST", r"/bulk/v1/leads/export/create\.json")[0].response["result"][0]["exportId"]
    assert bulk.get(stuck_id).status == "Cancelled"  # it gives its place in Marketo's queue back
    # A failed run hands no checkpoint to the next one, so the rerun exports again.
    again = inbound.rerun(stuck.run_id)
    assert again.status == "succeeded", again.error
    import_outcome(again, sandbox)
    assert len(creates(sandbox)) == 2
    assert_invitees_imported(inbound, sandbox)


def test_failed_bulk_export_fails_the_run_and_the_rerun_exports_again(inbound, sandbox, bulk):
    bulk.faults.fail("Export failed: internal error while writing file")
    failed = inbound.run(IMPORT, BULK)
    assert failed.status == "failed" and failed.error.startswith("bulk-failed")
    assert "internal error while writing file" in failed.error and inbound.registrations() == []
    again = inbound.rerun(failed.run_id)
    assert again.status == "succeeded", again.error
    import_outcome(again, sandbox)
    assert len(creates(sandbox)) == 2
    assert_invitees_imported(inbound, sandbox)


def test_bulk_file_404_after_completed_is_probed_then_imported(inbound, sandbox, bulk):
    bulk.faults.file_missing(requests=2)
    result = inbound.run(IMPORT, BULK)
    assert result.status == "succeeded", result.error
    import_outcome(result, sandbox)
    answers = [(e.status, e.header("Range")) for e in sandbox.journal.filter("GET", FILE)]
    assert answers == [(404, None), (404, "bytes=0-0"), (206, "bytes=0-0"), (200, None)]
    assert len(creates(sandbox)) == 1
    assert_invitees_imported(inbound, sandbox)


def test_bulk_file_that_never_appears_fails_and_the_rerun_exports_again(inbound, sandbox, bulk):
    bulk.faults.file_missing(requests=100)
    gone = inbound.run(IMPORT, BULK)
    assert gone.status == "failed" and gone.error.startswith("bulk-file-missing")
    assert inbound.registrations() == []
    assert [e.status for e in sandbox.journal.filter("GET", FILE)] == [404] * 4  # the GET and three probes
    again = inbound.rerun(gone.run_id)
    assert again.status == "succeeded", again.error
    import_outcome(again, sandbox)
    assert len(creates(sandbox)) == 2
    assert_invitees_imported(inbound, sandbox)


def test_truncated_corrupt_and_dropped_bulk_files_are_resumed_and_verified(inbound, sandbox, bulk):
    """The first download is dropped, the second cut short with a wrong byte: resumed with
    ``Range``, the checksum fails and the file is fetched whole again."""
    bulk.faults.drop_file_connection(times=1)
    bulk.faults.truncate_file(times=1)
    bulk.faults.corrupt_file(times=1)
    result = inbound.run(IMPORT, BULK)
    assert result.status == "succeeded", result.error
    import_outcome(result, sandbox)
    calls = sandbox.journal.filter("GET", FILE)
    half = calls[1].response["bytes"]
    assert [(e.status, e.header("Range")) for e in calls] == [(0, None), (200, None), (206, f"bytes={half}-"),
                                                              (200, None)]
    assert len(creates(sandbox)) == 1
    assert_invitees_imported(inbound, sandbox)
