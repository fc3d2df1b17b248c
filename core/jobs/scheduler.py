"""The scheduler tick: turn due schedules into queued runs, safely with several schedulers running.

Safety comes from two layers (ARCHITECTURE §4 "Schedule"):

* on PostgreSQL, due schedules are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two
  schedulers work on different rows instead of queueing behind each other;
* everywhere (SQLite included), a run is inserted with ``ON CONFLICT (job_id, scheduled_for) DO
  NOTHING``: a slot fired twice by a stale or racing scheduler yields one run and one outbox row.

A scheduler that was down fires each overdue schedule once (for its oldest missed slot) and then
moves on to the first slot after now, instead of replaying every missed slot.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .. import outbox
from ..db import transaction
from ..models import Job, JobRun, Schedule, utcnow
from ..schedules import next_fire, spec_from_row

log = logging.getLogger(__name__)

ACTIVE_RUN_STATUSES = ("queued", "running")
#: Slots in (now - EPSILON, now] stay due for the next tick rather than being skipped as missed.
EPSILON = timedelta(microseconds=1)


def tick(session_factory: sessionmaker[Session], now: datetime | None = None, limit: int = 100) -> list[int]:
    """Fire every due schedule (at most ``limit``) in one transaction; return the new runs' ids."""
    return _tick(session_factory, now or utcnow(), limit)[0]


def _tick(session_factory: sessionmaker[Session], now: datetime, limit: int) -> tuple[list[int], int]:
    """``tick`` that also says how many schedules it claimed (so a loop knows a backlog remains)."""
    created: list[int] = []
    with transaction(session_factory) as session:
        due = _claim_due(session, now, limit)
        for schedule, job in due:
            try:
                following = _advance(schedule, now)
            except ValueError:  # a row we cannot read must not block every other schedule
                log.exception("schedule %s of job %s is unreadable; stopping it", schedule.id, job.id)
                schedule.next_run_at = None
                continue
            run_id = _fire(session, schedule, job)
            if run_id is not None:
                created.append(run_id)
            schedule.next_run_at = following
    if created:
        log.info("scheduler queued %d run(s): %s", len(created), created)
    return created, len(due)


def _claim_due(session: Session, now: datetime, limit: int) -> list[tuple[Schedule, Job]]:
    """Due schedules of enabled jobs, oldest first; row-locked (skipping locked ones) on PostgreSQL."""
    stmt = (select(Schedule, Job).join(Job, Job.id == Schedule.job_id)
            .where(Schedule.next_run_at.is_not(None), Schedule.next_run_at <= now,
                   Job.enabled.is_(True), Job.state != "disabled")
            .order_by(Schedule.next_run_at, Schedule.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Schedule)
    return [(schedule, job) for schedule, job in session.execute(stmt)]


def _fire(session: Session, schedule: Schedule, job: Job) -> int | None:
    """Queue a run for the schedule's current slot; None when skipped (overlap) or already fired."""
    slot = schedule.next_run_at
    if _has_active_run(session, job.id):
        log.info("job %s: previous run still active, skipping slot %s", job.id, slot.isoformat())
        return None
    run_id = _insert_run(session, job.id, slot)
    if run_id is None:
        log.info("job %s: slot %s already fired", job.id, slot.isoformat())
        return None
    outbox.add_run_requested(session, run_id)
    if job.state != "running":
        job.state = "scheduled"
    return run_id


def _has_active_run(session: Session, job_id: int) -> bool:
    """No overlapping runs of one job: a queued or running run blocks the next slot."""
    return bool(session.scalar(select(exists().where(
        JobRun.job_id == job_id, JobRun.status.in_(ACTIVE_RUN_STATUSES)))))


def _insert_run(session: Session, job_id: int, scheduled_for: datetime) -> int | None:
    """INSERT ... ON CONFLICT (job_id, scheduled_for) DO NOTHING RETURNING id."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is None:
        raise RuntimeError(f"scheduler: unsupported database dialect {dialect!r}")
    stmt = (insert(JobRun)
            .values(job_id=job_id, trigger="schedule", scheduled_for=scheduled_for, status="queued")
            .on_conflict_do_nothing(index_elements=["job_id", "scheduled_for"])
            .returning(JobRun.id))
    return session.execute(stmt).scalar_one_or_none()


def _advance(schedule: Schedule, now: datetime) -> datetime | None:
    """The next slot after both the one just fired and (almost) now: missed slots collapse into one."""
    spec = spec_from_row(schedule.mode, schedule.run_at, schedule.rrule, schedule.start_at,
                         schedule.end_at, schedule.timezone)
    return next_fire(spec, after=max(schedule.next_run_at, now - EPSILON))


def run_forever(session_factory: sessionmaker[Session], interval: float = 1.0,
                stop_event: threading.Event | None = None) -> None:
    """Tick every ``interval`` seconds until ``stop_event`` is set; a failed tick is logged, not fatal.

    A tick that hit its limit is followed at once by another, so a backlog drains quickly.
    """
    stop_event = stop_event or threading.Event()
    limit = 100
    while not stop_event.is_set():
        try:
            busy = _tick(session_factory, utcnow(), limit)[1] >= limit
        except Exception:  # noqa: BLE001 - a scheduler must outlive a bad tick (DB restart, bad row)
            log.exception("scheduler tick failed")
            busy = False
        if not busy:
            stop_event.wait(interval)
