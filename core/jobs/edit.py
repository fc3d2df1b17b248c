"""Changing an existing job: its schedule, or removing it. One place for the rules, so the
job page, the Connectors list and the JSON API refuse the same things with the same reasons.

Both changes are audited (``core/audit.py``, target ``job``): who, when, and the schedule before
and after (in words and as submitted), or what was deleted.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit, outbox
from ..errors import flatten_messages
from ..models import Job, JobRun, Schedule, User, utcnow
from ..schedules import ScheduleSchema, ScheduleSpec, describe, fire_times, initial_next_run, spec_from_row, to_columns, to_dict
from . import runs
from .submit import SubmitError

__all__ = ["ACTIVE", "delete_job", "edit_schedule", "next_runs", "schedule_spec"]

ACTIVE = ("queued", "running")
TARGET = "job"


def schedule_spec(job: Job) -> ScheduleSpec | None:
    """The job's stored schedule as a spec; None when it has none or the row cannot be read."""
    s = job.schedule
    if s is None:
        return None
    try:
        return spec_from_row(s.mode, s.run_at, s.rrule, s.start_at, s.end_at, s.timezone)
    except (ValueError, KeyError):
        return None


def next_runs(job: Job, limit: int = 5) -> list[datetime]:
    """The job's next fire times: the scheduler's ``next_run_at`` first (it is what fires), then
    the rule's following ones. Empty for a disabled job or a schedule that is over."""
    s = job.schedule
    if not job.enabled or s is None or s.next_run_at is None:
        return []
    spec = schedule_spec(job)
    following = fire_times(spec, s.next_run_at, limit - 1) if spec is not None and limit > 1 else []
    return [s.next_run_at, *following]


def _active_run(session: Session, job_id: int) -> int | None:
    return session.scalar(select(JobRun.id).where(JobRun.job_id == job_id, JobRun.status.in_(ACTIVE)).limit(1))


def _lock(session: Session, job: Job) -> None:
    """Hold the job's schedule row (PostgreSQL) so a scheduler tick cannot fire it meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Schedule.id).where(Schedule.job_id == job.id).with_for_update())


def _snapshot(job: Job) -> dict[str, Any]:
    spec = schedule_spec(job)
    return {"schedule": describe(spec) if spec else None, "spec": to_dict(spec) if spec else None}


def edit_schedule(session: Session, job: Job, schedule: dict[str, Any], user: User | None = None,
                  now: datetime | None = None) -> ScheduleSpec:
    """Replace the job's schedule (once at a date, or recurring) and recompute its next run, in the
    caller's transaction. Raises ``SubmitError`` keyed ``schedule.<field>`` with the reason, as
    ``submit`` does. A schedule with no run left after now is refused: it would only end the job."""
    now = now or utcnow()
    default_tz = job.event.timezone if job.event is not None else (job.schedule.timezone if job.schedule else "UTC")
    try:
        spec = ScheduleSchema(default_timezone=default_tz).load(schedule or {})
    except ValidationError as exc:
        raise SubmitError(flatten_messages(exc.messages, "schedule")) from None
    if spec.mode == "once" and spec.run_at is None:
        raise SubmitError({"schedule.run_at": ["Choose a date and time; to run it now, use “Run now”."]})
    if spec.mode == "once" and spec.run_at <= now:
        raise SubmitError({"schedule.run_at": ["Must be in the future; to run it now, use “Run now”."]})
    following = initial_next_run(spec, now)
    if following is None:
        raise SubmitError({"schedule.end_at": ["No run is left after now: move the end later."]})
    _lock(session, job)
    before = _snapshot(job)
    if job.schedule is None:
        job.schedule = Schedule(job_id=job.id, **to_columns(spec), next_run_at=following)
    else:
        for column, value in to_columns(spec).items():
            setattr(job.schedule, column, value)
        job.schedule.next_run_at = following
    session.flush()
    runs.settle_job(session, job.id)
    audit.record(session, account_id=job.account_id, user=user, action="job.schedule_update", target_type=TARGET,
                 target_id=job.id, target_label=job.name[:200], before=before, after=_snapshot(job))
    session.flush()
    return spec


def delete_job(session: Session, job: Job, user: User | None = None) -> int:
    """Delete a job with its schedule, runs, run records, deliveries and ledger (the model's
    cascades); refused while a run of it is queued or running. Returns how many runs went."""
    _lock(session, job)
    if _active_run(session, job.id) is not None:
        raise SubmitError({"job": ["a run of this job is queued or running: cancel it, or wait until it ends, "
                                   "then delete the job"]})
    run_count = session.scalar(select(func.count(JobRun.id)).where(JobRun.job_id == job.id)) or 0
    audit.record(session, account_id=job.account_id, user=user, action="job.delete", target_type=TARGET,
                 target_id=job.id, target_label=job.name[:200],
                 before={"name": job.name, "job_type": job.job_type, "state": job.state,
                         "event_id": job.event_id, "runs": run_count, **_snapshot(job)})
    outbox.forget_runs(session, list(session.scalars(select(JobRun.id).where(JobRun.job_id == job.id))))
    session.delete(job)
    session.flush()
    return run_count
