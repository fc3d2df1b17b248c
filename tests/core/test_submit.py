"""One submit for web, API and CLI: validation names the field, writes are one transaction."""
import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.jobs.submit import SubmitError, clear_ended_jobs, submit
from connectors.models import Event, Job, JobRun, Outbox
from connectors.seed import get_or_create_event
from connectors.testing import ACCOUNT_CODE, Harness

from . import sample_plugin


@pytest.fixture
def harness(engine, db_url, tmp_path):
    h = Harness(tmp_path, plugins={"sample": sample_plugin}, database_url=db_url)
    h.configure("sample", {"url": "http://sample", "token": "t"})
    yield h
    h.close()


def _submit(h, params, event_code="TEST26", **kw):
    with transaction(h.factory) as s:
        from connectors.models import Account
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        event = s.scalar(select(Event).where(Event.event_code == event_code)) if event_code else None
        job = submit(s, h.registry, account=account, event=event, job_type_key=kw.pop("job_type", "sample.import_people"),
                     params=params, **kw)
        return job.id


def count(h, model):
    with h.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_errors_name_the_field_and_reason_and_nothing_is_written(harness):
    with pytest.raises(SubmitError) as err:
        _submit(harness, {"page_size": 0, "status_label": "Bogus"},
                schedule={"mode": "recurring", "frequency": "daily", "time_of_day": "25:00"})
    messages = err.value.messages
    assert messages["params.people"] == ["Missing data for required field."]
    assert "params.page_size" in messages
    assert "'Bogus' is not among the event's registration statuses" in messages["params.status_label"][0]
    assert any(k.startswith("schedule.") for k in messages)
    assert count(harness, Job) == count(harness, JobRun) == count(harness, Outbox) == 0


def test_scope_and_unknown_type_are_rejected(harness):
    with pytest.raises(SubmitError) as err:
        _submit(harness, {"people": []}, event_code=None)
    assert "runs for an event" in err.value.messages["event"][0]
    with pytest.raises(SubmitError) as err:
        _submit(harness, {}, job_type="sample.nope")
    assert "unknown job type" in err.value.messages["job_type"][0]


def test_run_now_writes_job_schedule_run_and_outbox_together(harness):
    job_id = _submit(harness, {"people": []})
    with harness.factory() as s:
        job = s.get(Job, job_id)
        assert job.state == "scheduled" and job.schedule.mode == "once" and job.schedule.next_run_at is None
        run = job.runs[0]
        assert run.status == "queued" and run.trigger == "manual"
        row = s.scalar(select(Outbox).where(Outbox.exchange == "commands"))
        assert row.payload == {"run_id": run.id, "attempt": 0} and row.sent_at is None


def test_recurring_job_waits_for_the_scheduler(harness):
    job_id = _submit(harness, {"people": []}, schedule={
        "mode": "recurring", "frequency": "daily", "interval": 1, "time_of_day": "02:00",
        "start_at": "2030-01-01T00:00:00", "end_at": "2030-02-01T00:00:00"})
    with harness.factory() as s:
        job = s.get(Job, job_id)
        assert job.runs == [] and job.schedule.rrule.startswith("FREQ=DAILY")
        assert job.schedule.next_run_at.isoformat() == "2030-01-01T01:00:00+00:00"  # 02:00 Paris in winter


def test_clear_all_jobs_removes_only_ended_jobs_of_that_event(harness):
    with transaction(harness.factory) as s:
        from connectors.models import Account
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        get_or_create_event(s, account, "OTHER26", "Other event")
    ended = harness.run("sample.import_people", {"people": []})
    ended_job = _job_of(harness, ended.run_id)
    other_ended = _submit(harness, {"people": []}, event_code="OTHER26")
    harness.execute(_run_of(harness, other_ended))
    queued = _submit(harness, {"people": []})
    with transaction(harness.factory) as s:
        event = s.scalar(select(Event).where(Event.event_code == "TEST26"))
        assert clear_ended_jobs(s, event.account_id, event.id) == 1
    with harness.factory() as s:
        remaining = set(s.scalars(select(Job.id)))
    assert ended_job not in remaining
    assert {other_ended, queued} <= remaining


def _run_of(h, job_id):
    with h.factory() as s:
        return s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))


def _job_of(h, run_id):
    with h.factory() as s:
        return s.get(JobRun, run_id).job_id


def test_list_parameters_are_checked_against_the_event_item_by_item(harness):
    from connectors.plugin_api import JobType
    from marshmallow import Schema, fields

    class Params(Schema):
        statuses = fields.List(fields.String(), load_default=None, metadata={"label": "Statuses"})

    harness.registry._registry.job_types["sample.list_check"] = JobType(
        key="sample.list_check", label="List check", application="sample", scope="event", params_schema=Params,
        run=lambda ctx, p: None, event_choices={"statuses": "registration_statuses"})
    _submit(harness, {"statuses": ["New", "Attended"]}, job_type="sample.list_check")
    with pytest.raises(SubmitError) as err:
        _submit(harness, {"statuses": ["New", "Bogus", "Nope"]}, job_type="sample.list_check")
    assert err.value.messages["params.statuses"][0].startswith("'Bogus', 'Nope' are not among the event's registration statuses")
