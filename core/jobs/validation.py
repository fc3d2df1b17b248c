"""Checking a job's parameters against the target application before it is accepted.

A job type with ``validate(ctx, params)`` (the Eloqua activity jobs: do the asset type, the
activity types and the campaign exist?) is submitted ``pending``: a worker runs the check as the
job's first run — never a web request, which must not wait on a remote API. Until the check
passed, the job receives no status-change events (``deliveries.plan`` leaves it out). Then:

- passed: the job is ``valid`` and catches up on the events that happened since it was
  submitted, so none is lost while it waited;
- ``JobFailed``: the job is ``failed`` and disabled, with the message on the job and its run;
  enabling it again runs the check again;
- any other error (the target unreachable): the job stays ``pending`` and the run fails saying
  so; running the job again checks again.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Job, JobRun, utcnow
from ..plugin_api import JobFailed, JobType
from ..plugins import PluginManager
from . import deliveries, runs
from .context import JobContext, LeaseLost

PENDING, VALID, FAILED = "pending", "valid", "failed"
VALIDATE_TRIGGER = "validate"


def initial_state(job_type: JobType) -> str | None:
    return PENDING if job_type.validate is not None else None


def needs_check(job_type: JobType, state: str | None) -> bool:
    return job_type.validate is not None and state != VALID


def enqueue_check(session: Session, job: Job) -> JobRun | None:
    """A run that only checks, unless a run of the job is already queued or running (it checks first)."""
    busy = session.scalar(select(JobRun.id).where(JobRun.job_id == job.id, JobRun.status.in_(("queued", "running")))
                          .limit(1))
    return None if busy is not None else runs.enqueue(session, job, trigger=VALIDATE_TRIGGER)


def reset(session: Session, job: Job) -> None:
    """The parameters must be checked again (the job was enabled after a failed check)."""
    job.validation_state, job.validation_message, job.validated_at = PENDING, None, None


def run_check(ctx: JobContext, registry: PluginManager, job_type: JobType, params: dict, job_id: int) -> None:
    """Check, record the verdict with the run's next commit, and raise ``JobFailed`` if it failed."""
    session = ctx._session
    ctx.log.info("checking the parameters against %s before the job is accepted", job_type.application)
    try:
        note = job_type.validate(ctx, params)
    except LeaseLost:
        raise
    except JobFailed as exc:
        ctx.discard()
        message = str(exc)
        session.execute(update(Job).where(Job.id == job_id).values(
            validation_state=FAILED, validation_message=message, validated_at=utcnow(), enabled=False))
        ctx.log.error("the parameters were refused: %s; the job is disabled (fix them and enable it again)", message)
        ctx.commit()
        raise JobFailed(f"the job was not accepted: {message}", code=exc.code or "validation") from exc
    except Exception as exc:  # noqa: BLE001 - the target unreachable, most likely: check again later
        ctx.discard()
        raise JobFailed(f"the parameters could not be checked ({type(exc).__name__}: {exc}); the job receives no "
                        "events until a run checks them: run it again", code="validation_pending") from exc
    job = session.get(Job, job_id)
    job.validation_state, job.validation_message, job.validated_at = VALID, note or None, utcnow()
    caught_up = deliveries.replay(session, registry, job, job.submitted_at) if job_type.triggers else []
    ctx.log.info("the parameters are valid%s%s", f" ({note})" if note else "",
                 f"; {len(caught_up)} status change(s) since the job was submitted are on their way" if caught_up else "")
    ctx.commit()
