"""Running a job end to end through the core (no bus): submit, claim, execute, outcomes."""
import threading

import pytest
from sqlalchemy import func, select, update

from connectors.db import transaction
from connectors.jobs import runs
from connectors.jobs.execute import execute_run
from connectors.jobs.runs import claim
from connectors.models import JobRun, Outbox, Registration
from connectors.testing import Harness

from . import sample_plugin

PEOPLE = [
    {"id": "1", "email": "Ann@Example.com", "first": "Ann", "last": "Lee"},
    {"id": "2", "email": "bob@example.com", "first": "Bob", "last": "Ray"},
    {"id": "3", "email": "", "first": "NoMail"},
    {"id": "4", "email": "ann@example.com", "first": "Ann (dup)"},
    {"id": "5", "email": "cy@example.com", "first": "Cy"},
]


@pytest.fixture
def harness(engine, db_url, tmp_path):
    h = Harness(tmp_path, plugins={"sample": sample_plugin}, database_url=db_url)
    h.configure("sample", {"url": "http://sample", "token": "s3cret"})
    yield h
    h.close()


def test_import_creates_profiles_and_registrations_and_reports_problems(harness):
    result = harness.run("sample.import_people", {"people": PEOPLE})
    assert result.status == "succeeded"
    assert result.counters == {"created": 3, "skipped": 2}
    problems = {r["key"]: (r["outcome"], r["code"]) for r in result.records}
    assert problems == {"3": ("skipped", "missing_email"), "ann@example.com": ("skipped", "duplicate")}
    emails = sorted(r["email"] for r in harness.registrations())
    assert emails == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert {r["status_label"] for r in harness.registrations()} == {"New"}


def test_running_twice_creates_nothing_new(harness):
    first = harness.run("sample.import_people", {"people": PEOPLE})
    second = harness.rerun(first.run_id)
    assert second.status == "succeeded"
    assert second.counters == {"unchanged": 3, "skipped": 2}
    assert len(harness.registrations()) == 3 and len(harness.profiles()) == 3


def test_overwrite_status_updates_and_announces(harness):
    harness.run("sample.import_people", {"people": PEOPLE[:2]})
    kept = harness.run("sample.import_people", {"people": PEOPLE[:2], "status_label": "Attended"})
    assert kept.counters == {"skipped": 2} and kept.records[0]["code"] == "exists"
    changed = harness.run("sample.import_people", {"people": PEOPLE[:2], "status_label": "Attended", "overwrite_status": True})
    assert changed.counters == {"updated": 2}
    events = harness.status_events()
    assert len(events) == 4
    last = events[-1]
    assert last["type"] == "registration.status_changed"
    assert (last["previous"]["status"], last["current"]["status"], last["registration_version"]) == ("New", "Attended", 2)
    assert last["account_code"] == "TEST" and last["event_code"] == "TEST26"
    with harness.factory() as s:  # each event travels through the outbox
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.exchange == "events")) == 4


def test_update_policy_only_if_blank_keeps_existing_values(harness):
    harness.run("sample.import_people", {"people": [{"id": "1", "email": "a@x.io", "first": "A", "last": "Original"}]})
    harness.run("sample.import_people", {"people": [{"id": "1", "email": "a@x.io", "first": "Alice", "last": "Changed"}]})
    profile = harness.profiles()[0]
    assert (profile["first_name"], profile["last_name"]) == ("Alice", "Original")


def test_job_failed_and_handler_bug_end_the_run_as_failed(harness):
    failed = harness.run("sample.import_people", {"people": PEOPLE, "fail_with": "jobfailed"})
    assert failed.status == "failed" and failed.error == "1013: the remote list does not exist"
    bug = harness.run("sample.import_people", {"people": PEOPLE, "fail_with": "bug"})
    assert bug.status == "failed" and "ZeroDivisionError" in bug.error
    assert any("Traceback" in line["message"] for line in bug.log)


def test_crash_after_a_checkpoint_keeps_the_committed_page(harness):
    result = harness.run("sample.import_people", {"people": PEOPLE, "fail_with": "after_first_page"})
    assert result.status == "failed"
    assert result.checkpoint == {"offset": 2} and result.counters == {"created": 2}
    assert len(harness.registrations()) == 2


def test_reaped_run_resumes_from_its_checkpoint_and_stale_worker_is_fenced(harness):
    run_id = harness.submit("sample.import_people", {"people": PEOPLE})
    stale = claim(harness.factory, run_id, "worker-a", 30)
    with transaction(harness.factory) as s:  # worker-a saved one page, then went silent
        s.execute(update(JobRun).where(JobRun.id == run_id).values(checkpoint={"offset": 2}, counters={"created": 2}))
        s.execute(update(JobRun).where(JobRun.id == run_id).values(lease_until=JobRun.queued_at))
    assert runs.reap_expired(harness.factory) == [run_id]
    fresh = claim(harness.factory, run_id, "worker-b", 30, attempt=1)
    assert fresh is not None and fresh.attempt == 1
    assert execute_run(harness.factory, harness.registry, harness.box, stale, 30) == "lost"  # fenced out
    assert execute_run(harness.factory, harness.registry, harness.box, fresh, 30) == "succeeded"
    result = harness.result(run_id)
    assert any("starting at offset 2" in line["message"] for line in result.log)
    # page one (ids 1, 2) counts as done: only pages two and three ran again
    assert result.counters == {"created": 4, "skipped": 1}
    assert sorted(r["email"] for r in harness.registrations()) == ["ann@example.com", "cy@example.com"]


def test_a_database_outage_interrupts_the_attempt_and_the_next_resumes_it(harness):
    """Not a failed run: the attempt's unsaved work is rolled back, the run stays running until
    its lease runs out, and the reaper's next attempt resumes from the checkpoint."""
    run_id = harness.submit("sample.import_people", {"people": PEOPLE, "fail_with": "database_gone_after_first_page"})
    first = claim(harness.factory, run_id, "worker-a", 30)
    assert execute_run(harness.factory, harness.registry, harness.box, first, 30) == "interrupted"
    interrupted = harness.result(run_id)
    assert (interrupted.status, interrupted.checkpoint, interrupted.error) == ("running", {"offset": 2}, None)
    with transaction(harness.factory) as s:  # its lease runs out (worker-a no longer renews it)
        s.execute(update(JobRun).where(JobRun.id == run_id).values(lease_until=JobRun.queued_at))
    assert runs.reap_expired(harness.factory) == [run_id]
    second = claim(harness.factory, run_id, "worker-b", 30, attempt=1)
    assert execute_run(harness.factory, harness.registry, harness.box, second, 30) == "succeeded"
    result = harness.result(run_id)
    assert result.counters == {"created": 3, "skipped": 2} and len(harness.registrations()) == 3  # counted once


def test_a_database_error_that_never_clears_still_ends_the_run(harness):
    from connectors.jobs.execute import OUTAGE_ATTEMPTS

    run_id = harness.submit("sample.import_people", {"people": PEOPLE, "fail_with": "database_gone_after_first_page"})
    with transaction(harness.factory) as s:  # its earlier attempts were all broken off the same way
        s.execute(update(JobRun).where(JobRun.id == run_id).values(attempt=OUTAGE_ATTEMPTS))
    last = claim(harness.factory, run_id, "worker-a", 30, attempt=OUTAGE_ATTEMPTS)
    assert execute_run(harness.factory, harness.registry, harness.box, last, 30) == "failed"
    assert "server closed the connection unexpectedly" in harness.result(run_id).error


def test_claim_is_a_compare_and_set(harness):
    run_id = harness.submit("sample.import_people", {"people": PEOPLE})
    results = []
    barrier = threading.Barrier(4)

    def try_claim(i):
        barrier.wait()
        results.append(claim(harness.factory, run_id, f"w{i}", 30))

    threads = [threading.Thread(target=try_claim, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len([r for r in results if r is not None]) == 1


def test_cancel_queued_and_running(harness):
    run_id = harness.submit("sample.import_people", {"people": PEOPLE})
    with transaction(harness.factory) as s:
        assert runs.request_cancel(s, s.get(JobRun, run_id))
    assert harness.result(run_id).status == "cancelled"
    assert claim(harness.factory, run_id, "w", 30) is None

    run_id = harness.submit("sample.import_people", {"people": PEOPLE})
    got = claim(harness.factory, run_id, "w", 30)
    with transaction(harness.factory) as s:
        runs.request_cancel(s, s.get(JobRun, run_id))
    assert execute_run(harness.factory, harness.registry, harness.box, got, 30) == "cancelled"


def test_registration_uniqueness_holds_in_the_database(harness):
    harness.run("sample.import_people", {"people": PEOPLE})
    with harness.factory() as s:
        pairs = s.execute(select(Registration.event_id, Registration.profile_id)).all()
    assert len(pairs) == len(set(pairs))


def test_a_lost_command_is_sent_again_but_not_while_one_is_pending(harness):
    from datetime import timedelta

    from connectors.models import utcnow
    from connectors.outbox import mark_sent, pending

    run_id = harness.submit("sample.import_people", {"people": PEOPLE})
    later = utcnow() + timedelta(minutes=10)
    assert runs.resend_lost_commands(harness.factory, timedelta(minutes=5), now=later) == []  # still unsent
    with transaction(harness.factory) as s:
        mark_sent(s, [row.id for row in pending(s)])
    assert runs.resend_lost_commands(harness.factory, timedelta(minutes=5)) == []  # queued only just now
    assert runs.resend_lost_commands(harness.factory, timedelta(minutes=5), now=later) == [run_id]
    assert runs.resend_lost_commands(harness.factory, timedelta(minutes=5), now=later) == []  # one is pending
    with harness.factory() as s:
        assert [row.message_id for row in pending(s)] == [f"run_{run_id}_0_r1"]
    assert harness.execute(run_id).status == "succeeded"


def test_quota_exhausted_run_keeps_its_pages_and_the_next_run_resumes(harness):
    first = harness.run("sample.import_people", {"people": PEOPLE, "fail_with": "quota_after_first_page"})
    assert first.status == "quota_exhausted" and first.error == "607: daily quota reached"
    assert first.checkpoint == {"offset": 2} and len(harness.registrations()) == 2
    second = harness.rerun(first.run_id)
    assert second.status == "succeeded"
    assert any("resuming where run #%d stopped" % first.run_id in line["message"] for line in second.log)
    assert any("starting at offset 2" in line["message"] for line in second.log)
    assert sorted(r["email"] for r in harness.registrations()) == ["ann@example.com", "bob@example.com", "cy@example.com"]


def test_ledger_and_watermark_make_recurring_runs_incremental(harness):
    harness.run("sample.import_people", {"people": PEOPLE[:2]})
    first = harness.run("sample.notify", {})
    assert first.counters == {"updated": 2}
    assert any("since the beginning" in line["message"] for line in first.log)
    second = harness.rerun(first.run_id)
    assert second.counters == {"unchanged": 2}
    assert any(line["message"].startswith("since 20") for line in second.log)  # the first run's start
    harness.run("sample.import_people", {"people": PEOPLE[:1], "status_label": "Attended", "overwrite_status": True})
    third = harness.rerun(first.run_id)
    assert third.counters == {"updated": 1, "unchanged": 1}
