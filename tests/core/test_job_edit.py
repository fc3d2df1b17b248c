"""Editing a job's schedule and deleting a job: the next fire times follow the new schedule, bad
input is refused naming the field, a job with a run going is never deleted, and both are audited."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.jobs.edit import delete_job, edit_schedule, next_runs
from connectors.jobs.submit import SubmitError, set_enabled, submit
from connectors.models import (
    Account, AuditEntry, Delivery, Event, Job, JobRun, LedgerEntry, Profile, Registration, RunRecord, Schedule,
    StatusChangeEvent,
)
from connectors.testing import ACCOUNT_CODE, EVENT_CODE

from .test_submit import harness  # noqa: F401 - the same sample-plugin harness

NOW = datetime(2029, 12, 20, 12, 0, tzinfo=timezone.utc)
DAILY = {"mode": "recurring", "frequency": "daily", "time_of_day": "02:00",
         "start_at": "2030-01-01T00:00:00", "end_at": "2030-03-01T00:00:00"}
WEEKDAYS = {"mode": "recurring", "frequency": "weekly", "days_of_week": ["MO", "TU", "WE", "TH", "FR"],
            "time_of_day": "09:30", "start_at": "2030-01-01T00:00:00", "end_at": "2030-06-30T00:00:00",
            "timezone": "America/New_York"}




def _job(h, schedule=DAILY) -> int:
    with transaction(h.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        event = s.scalar(select(Event).where(Event.event_code == EVENT_CODE))
        return submit(s, h.registry, account=account, event=event, job_type_key="sample.import_people",
                      params={"people": []}, schedule=schedule).id


def _iso(moments):
    return [m.isoformat() for m in moments]


def test_a_new_schedule_moves_the_next_fire_times_and_is_audited(harness):
    job_id = _job(harness)
    with transaction(harness.factory) as s:
        job = s.get(Job, job_id)
        assert _iso(next_runs(job, 3)) == ["2030-01-01T01:00:00+00:00", "2030-01-02T01:00:00+00:00",
                                           "2030-01-03T01:00:00+00:00"]  # 02:00 in Paris, the event's zone
        edit_schedule(s, job, WEEKDAYS, now=NOW)
    with harness.factory() as s:
        job = s.get(Job, job_id)
        assert job.schedule.rrule.startswith("FREQ=WEEKLY") and job.schedule.timezone == "America/New_York"
        # Tue 1 Jan 2030 is the first weekday; 09:30 in New York is 14:30 UTC; Sat 5 and Sun 6 are skipped
        assert _iso(next_runs(job, 5)) == ["2030-01-01T14:30:00+00:00", "2030-01-02T14:30:00+00:00",
                                           "2030-01-03T14:30:00+00:00", "2030-01-04T14:30:00+00:00",
                                           "2030-01-07T14:30:00+00:00"]
        assert job.state == "scheduled"
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "job.schedule_update"))
        assert entry.target_id == str(job_id)
        assert entry.before["schedule"].startswith("Every day at 02:00 Europe/Paris")
        assert entry.after["schedule"] == ("Every weekday at 09:30 America/New_York, from 1 January 2030 "
                                           "until 30 June 2030")


@pytest.mark.parametrize("schedule,field,reason", [
    ({**DAILY, "end_at": "2029-12-31T00:00:00"}, "schedule.end_at", "Must be after start_at."),
    ({**DAILY, "timezone": "Mars/Olympus"}, "schedule.timezone", "Unknown time zone 'Mars/Olympus'."),
    ({**DAILY, "time_of_day": "25:00"}, "schedule.time_of_day", "Not a valid time of day (HH:MM)."),
    ({**DAILY, "frequency": None}, "schedule.frequency", "Required for a recurring schedule."),
    ({"mode": "once", "run_at": "2029-01-01T10:00:00"}, "schedule.run_at", "Must be in the future"),
    ({"mode": "once"}, "schedule.run_at", "Choose a date and time"),
    ({**DAILY, "start_at": "2029-01-01T00:00:00", "end_at": "2029-06-01T00:00:00"}, "schedule.end_at",
     "No run is left after now"),
])
def test_bad_schedules_are_refused_naming_the_field_and_nothing_changes(harness, schedule, field, reason):
    job_id = _job(harness)
    with transaction(harness.factory) as s:
        before = (s.get(Job, job_id).schedule.rrule, s.get(Job, job_id).schedule.next_run_at)
        with pytest.raises(SubmitError) as err:
            edit_schedule(s, s.get(Job, job_id), schedule, now=NOW)
        assert err.value.messages[field][0].startswith(reason), err.value.messages
    with harness.factory() as s:
        assert (s.get(Job, job_id).schedule.rrule, s.get(Job, job_id).schedule.next_run_at) == before
        assert s.scalar(select(func.count(AuditEntry.id))) == 0


def test_an_ended_once_job_becomes_scheduled_again_and_a_disabled_one_stays_disabled(harness):
    ended = harness.run("sample.import_people", {"people": []})
    with transaction(harness.factory) as s:
        job = s.get(JobRun, ended.run_id).job
        assert job.state == "ended" and next_runs(job) == []
        edit_schedule(s, job, {"mode": "once", "run_at": "2030-01-05T08:00:00"}, now=NOW)
        assert job.state == "scheduled"
        assert _iso(next_runs(job)) == ["2030-01-05T07:00:00+00:00"]  # once: one run left
        set_enabled(s, job, False)
        edit_schedule(s, job, DAILY, now=NOW)
        assert job.state == "disabled" and next_runs(job) == []
        assert job.schedule.next_run_at.isoformat() == "2030-01-01T01:00:00+00:00"  # kept for when it is enabled


def test_delete_is_refused_while_a_run_is_going_then_removes_everything_of_the_job(harness):
    job_id = _job(harness)
    with transaction(harness.factory) as s:
        run = JobRun(job_id=job_id, status="running", counters={}, log=[])
        s.add(run)
        s.flush()
        s.add(RunRecord(run_id=run.id, record_key="a@x.test", outcome="failed"))
        s.add(LedgerEntry(job_id=job_id, key="a@x.test", fingerprint="f"))
        event = s.scalar(select(Event).where(Event.event_code == EVENT_CODE))
        profile = Profile(account_id=event.account_id, pin="P1", email="a@x.test", custom={}, external_ids={})
        s.add(profile)
        s.flush()
        reg = Registration(event_id=event.id, profile_id=profile.id, registration_code="R1", status_label="New", attendee_type_code="Attendee",
                           external_ids={}, version=1)
        s.add(reg)
        s.flush()
        s.add(StatusChangeEvent(id="evt-1", type="registration.status_changed", account_id=event.account_id,
                                event_id=event.id, registration_id=reg.id, registration_version=1, payload={}))
        s.flush()
        s.add(Delivery(job_id=job_id, event_id="evt-1", state="parked"))
        run_id = run.id
    with transaction(harness.factory) as s:
        with pytest.raises(SubmitError) as err:
            delete_job(s, s.get(Job, job_id))
        assert "queued or running" in err.value.messages["job"][0]
    with transaction(harness.factory) as s:
        s.get(JobRun, run_id).status = "succeeded"
    with transaction(harness.factory) as s:
        assert delete_job(s, s.get(Job, job_id)) == 1
    with harness.factory() as s:
        for model in (Job, Schedule, JobRun, RunRecord, LedgerEntry, Delivery):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model.__name__
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "job.delete"))
        assert entry.target_id == str(job_id) and entry.before["runs"] == 1
        assert s.get(StatusChangeEvent, "evt-1") is not None  # the event itself is not the job's
