"""An event-triggered job is "listening" after its run, not "ended": it still reacts to status
changes, so "Clear All Jobs" keeps it; disabled it is "disabled"; past its window it has ended."""
from datetime import timedelta

from sqlalchemy import select

from connectors.db import transaction
from connectors.jobs import runs
from connectors.jobs.submit import clear_ended_jobs, set_enabled
from connectors.models import Job, JobRun, Outbox, utcnow

from .test_deliveries import change_status, harness, plan_all  # noqa: F401 - the fixture


def state(h, job_id: int) -> str:
    with h.factory() as s:
        return s.get(Job, job_id).state


def listening_job(h) -> int:
    """An event-triggered job after its run (as a worker runs it)."""
    result = h.run("sample.activity", {})
    with h.factory() as s:
        return s.get(JobRun, result.run_id).job_id


def test_an_event_triggered_job_listens_after_its_run_and_is_not_cleared_as_ended(harness):
    listening = listening_job(harness)
    result = harness.run("sample.import_people", {"people": [], "status_label": "New"})  # an ordinary job
    with harness.factory() as s:
        ended = s.get(JobRun, result.run_id).job_id
    assert (state(harness, listening), state(harness, ended)) == ("listening", "ended")
    with transaction(harness.factory) as s:
        account_id, event_id = s.get(Job, listening).account_id, s.get(Job, listening).event_id
        assert clear_ended_jobs(s, account_id, event_id) == 1
    with harness.factory() as s:
        assert {j.id for j in s.scalars(select(Job))} == {listening}
    change_status(harness, "New")
    assert len(plan_all(harness)) == 2  # it still gets the events


def test_disabled_it_is_disabled_and_past_its_window_it_has_ended(harness):
    job_id = listening_job(harness)
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), False)
    assert state(harness, job_id) == "disabled"
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), True)
    assert state(harness, job_id) == "listening"
    with transaction(harness.factory) as s:
        s.get(Job, job_id).schedule.end_at = utcnow() - timedelta(minutes=1)
        runs.settle_job(s, job_id)
    assert state(harness, job_id) == "ended"


def test_a_job_submitted_after_clearing_gets_its_run_command(harness):
    """SQLite gives the next run the id of the newest deleted one: its command must still go out."""
    first = harness.run("sample.import_people", {"people": [], "status_label": "New"})
    with transaction(harness.factory) as s:
        job = s.get(Job, s.get(JobRun, first.run_id).job_id)
        assert clear_ended_jobs(s, job.account_id, job.event_id) == 1
    second = harness.run("sample.import_people", {"people": [], "status_label": "New"})
    assert second.status == "succeeded"
    with harness.factory() as s:
        commands = list(s.scalars(select(Outbox.message_id).where(Outbox.exchange == "commands")))
    assert commands == [f"run_{second.run_id}_0"]
