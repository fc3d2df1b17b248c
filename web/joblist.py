"""Rows of the job list (certain.md §5.5), built with a fixed number of queries per page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload

from connectors.models import Job, JobRun
from connectors.plugins import PluginManager
from connectors.schedules import describe, spec_from_row


@dataclass(frozen=True)
class JobRow:
    job: Job
    application: str
    job_type: str
    status: str  # Scheduled | Running | Ended | Disabled
    result: str | None  # the last run's status in words
    last_run: JobRun | None
    next_run_at: datetime | None
    schedule: str

    def count(self, outcome: str) -> int | None:
        return None if self.last_run is None else int((self.last_run.counters or {}).get(outcome, 0))


def words(status: str | None) -> str:
    return (status or "").replace("_", " ").capitalize()


def timezone_of(job: Job) -> str:
    """The zone a job's times are shown in: its event's, else its schedule's."""
    return job.event.timezone if job.event is not None else (job.schedule.timezone if job.schedule else "UTC")


def schedule_words(job: Job) -> str:
    s = job.schedule
    if s is None:
        return "—"
    try:
        return describe(spec_from_row(s.mode, s.run_at, s.rrule, s.start_at, s.end_at, s.timezone))
    except (ValueError, KeyError):  # an unreadable row must not break the whole page
        return s.rrule or s.mode


def jobs_in_scope(db: Session, account_id: int, event_id: int | None) -> list[Job]:
    scope = Job.event_id == event_id if event_id is not None else Job.event_id.is_(None)
    return list(db.scalars(
        select(Job).where(Job.account_id == account_id, scope)
        .options(selectinload(Job.schedule), selectinload(Job.submitted_by), selectinload(Job.event))
        .order_by(Job.submitted_at.desc(), Job.id.desc())))


def last_runs(db: Session, job_ids: list[int]) -> dict[int, JobRun]:
    if not job_ids:
        return {}
    newest = select(func.max(JobRun.id)).where(JobRun.job_id.in_(job_ids)).group_by(JobRun.job_id)
    runs = db.scalars(select(JobRun).where(JobRun.id.in_(newest)).options(defer(JobRun.log), defer(JobRun.checkpoint)))
    return {run.job_id: run for run in runs}


def rows(db: Session, registry: PluginManager, jobs: list[Job]) -> list[JobRow]:
    latest = last_runs(db, [job.id for job in jobs])
    apps, types = registry.applications, registry.job_types
    out = []
    for job in jobs:
        jt = types.get(job.job_type)
        app_name = jt.application if jt else job.job_type.split(".", 1)[0]
        app = apps.get(app_name)
        run = latest.get(job.id)
        out.append(JobRow(
            job=job, application=app.label if app else app_name, job_type=jt.label if jt else job.job_type,
            status=words(job.state), result=words(run.status) if run else None, last_run=run,
            next_run_at=job.schedule.next_run_at if job.schedule and job.enabled else None,
            schedule=schedule_words(job)))
    return out


def table(db: Session, registry: PluginManager, account_id: int, event_id: int | None) -> list[JobRow]:
    return rows(db, registry, jobs_in_scope(db, account_id, event_id))
