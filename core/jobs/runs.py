"""Run lifecycle in the database: claim with a compare-and-set, lease, reap, cancel, finish.

``(worker, attempt)`` fences a run: every write of a worker's handler is conditional on still
owning the run, so a worker whose lease was reaped cannot overwrite the one that took over.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .. import outbox
from ..db import transaction
from ..models import Job, JobRun, Outbox, utcnow
from .states import job_state_after_run


@dataclass(frozen=True)
class Claim:
    run_id: int
    worker: str
    attempt: int


def enqueue(session: Session, job: Job, trigger: str = "manual", scheduled_for: datetime | None = None) -> JobRun:
    """A queued run and its command message, in the caller's transaction."""
    run = JobRun(job_id=job.id, trigger=trigger, scheduled_for=scheduled_for, status="queued", attempt=0,
                 counters={}, log=[])
    session.add(run)
    session.flush()
    outbox.add_run_requested(session, run.id, run.attempt)
    if job.state != "disabled":
        job.state = "scheduled"
    return run


def claim(factory: sessionmaker[Session], run_id: int, worker: str, lease_seconds: int,
          attempt: int | None = None) -> Claim | None:
    """queued -> running, once: the compare-and-set that makes duplicate deliveries harmless."""
    now = utcnow()
    with transaction(factory) as s:
        cond = [JobRun.id == run_id, JobRun.status == "queued", JobRun.cancel_requested.is_(False)]
        if attempt is not None:
            cond.append(JobRun.attempt == attempt)
        res = s.execute(update(JobRun).where(*cond).values(
            status="running", worker=worker, lease_until=now + timedelta(seconds=lease_seconds)))
        if res.rowcount != 1:
            return None
        run = s.get(JobRun, run_id)
        if run.started_at is None:
            run.started_at = now
        s.execute(update(Job).where(Job.id == run.job_id).values(state="running"))
        return Claim(run_id, worker, run.attempt)


def renew(factory: sessionmaker[Session], claim: Claim, lease_seconds: int) -> bool:
    """Extend the lease; False means the run is no longer ours (reaped, or ended)."""
    with transaction(factory) as s:
        res = s.execute(update(JobRun).where(*owned(claim)).values(
            lease_until=utcnow() + timedelta(seconds=lease_seconds)))
        return res.rowcount == 1


def owned(claim: Claim):
    return (JobRun.id == claim.run_id, JobRun.status == "running", JobRun.worker == claim.worker,
            JobRun.attempt == claim.attempt)


def reap_expired(factory: sessionmaker[Session], now: datetime | None = None, limit: int = 100) -> list[int]:
    """Re-queue runs whose worker stopped renewing its lease (attempt + 1, a new command)."""
    now = now or utcnow()
    requeued: list[int] = []
    with transaction(factory) as s:
        q = select(JobRun).where(JobRun.status == "running", JobRun.lease_until < now).limit(limit)
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        for run in s.scalars(q):
            if run.cancel_requested:
                run.status, run.ended_at, run.lease_until = "cancelled", now, None
                settle_job(s, run.job_id)
                continue
            run.status, run.worker, run.lease_until = "queued", None, None
            run.attempt += 1
            run.log = [*(run.log or []), log_entry("warning", f"worker lease expired; re-queued as attempt {run.attempt}")]
            outbox.add_run_requested(s, run.id, run.attempt)
            requeued.append(run.id)
    return requeued


def resend_lost_commands(factory: sessionmaker[Session], older_than: timedelta,
                         now: datetime | None = None, limit: int = 100) -> list[int]:
    """Send the command again for runs queued longer than ``older_than`` whose last command went
    out: a message dead-lettered, or lost with an in-memory bus, must not strand a run. The claim
    is a compare-and-set, so a command that was only slow is harmless twice."""
    now = now or utcnow()
    resent: list[int] = []
    with transaction(factory) as s:
        stale = list(s.scalars(select(JobRun).where(JobRun.status == "queued", JobRun.queued_at < now - older_than,
                                                    JobRun.cancel_requested.is_(False)).order_by(JobRun.id).limit(limit)))
        for run in stale:
            prefix = f"run_{run.id}_{run.attempt}"
            last = s.execute(select(func.max(Outbox.created_at), func.count(Outbox.id), func.count(Outbox.sent_at))
                             .where(or_(Outbox.message_id == prefix, Outbox.message_id.like(prefix + "_r%")))).one()
            newest, total, sent = last
            if total != sent or (newest is not None and newest > now - older_than):
                continue  # a command is still waiting in the outbox, or went out recently
            outbox.add(s, exchange=outbox.COMMANDS, routing_key="runs", type=outbox.RUN_REQUESTED,
                       payload={"run_id": run.id, "attempt": run.attempt}, message_id=f"{prefix}_r{total}")
            resent.append(run.id)
    return resent


def request_cancel(session: Session, run: JobRun) -> bool:
    """Cancel a queued run at once; ask a running one to stop (its handler sees ``ctx.cancelled()``)."""
    if run.ended:
        return False
    if run.status == "queued":
        run.status, run.ended_at = "cancelled", utcnow()
        session.flush()
        settle_job(session, run.job_id)
    else:
        run.cancel_requested = True
    return True


def is_cancel_requested(session: Session, run_id: int) -> bool:
    return bool(session.scalar(select(JobRun.cancel_requested).where(JobRun.id == run_id)))


def settle_job(session: Session, job_id: int) -> None:
    """After a run ends: the job is running if another run is, else scheduled, listening (an
    event-triggered job whose window is open) or ended."""
    job = session.get(Job, job_id)
    active = session.scalar(select(JobRun.id).where(JobRun.job_id == job_id, JobRun.status.in_(("queued", "running"))).limit(1))
    if active is not None:
        job.state = "running" if session.scalar(select(JobRun.id).where(JobRun.job_id == job_id, JobRun.status == "running").limit(1)) else "scheduled"
        return
    sched = job.schedule
    has_next = sched is not None and sched.next_run_at is not None
    window_open = sched is None or sched.end_at is None or sched.end_at > utcnow()
    job.state = job_state_after_run(has_next, job.enabled, listening=bool(job.listens) and window_open)


def log_entry(level: str, message: str) -> dict:
    return {"at": utcnow().isoformat().replace("+00:00", "Z"), "level": level, "message": message}

