"""Executing one claimed run: build the context, call the handler, record how it ended.

Used by every worker, embedded or not; the bus only decides *which* run to execute.
"""
from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..db import transaction, unavailable
from ..mapping import Mapping, Mappings
from ..models import ENDED_RUN_STATUSES, Account, Event, JobRun, PluginConfig, utcnow
from ..plugin_api import JobFailed, QuotaExhausted
from ..plugins import PluginManager
from ..secrets import SecretBox
from ..connection_keys import ConnectionSettings
from ..connection_state import ConnectionState
from ..store import Store
from . import deliveries, runs, validation
from .context import JobContext, LeaseLost
from .runs import Claim
from .states import final_status

#: ``JobRun.trigger`` of a run that retries some records of another (``problems.retry``)
RETRY_TRIGGER = "retry"

log = logging.getLogger(__name__)


class LeaseKeeper(threading.Thread):
    """Renews a claim's lease every third of its length until stopped or lost."""

    def __init__(self, factory: sessionmaker[Session], claim: Claim, lease_seconds: int):
        super().__init__(name=f"lease-{claim.run_id}", daemon=True)
        self.factory, self.claim, self.lease_seconds = factory, claim, lease_seconds
        self.stopped, self.lost = threading.Event(), False

    def run(self) -> None:
        while not self.stopped.wait(max(self.lease_seconds / 3, 0.2)):
            try:
                if not runs.renew(self.factory, self.claim, self.lease_seconds):
                    self.lost = True
                    return
            except Exception:  # a passing database error: try again next beat
                log.exception("lease renewal of run %s failed", self.claim.run_id)

    def stop(self) -> None:
        self.stopped.set()


def build_context(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox, claim: Claim):
    """The handler, its parameters and its context for a claimed run; ``ctx._facts`` tells the
    executor the run's trigger and whether the job's parameters still need checking."""
    session = factory()
    run = session.get(JobRun, claim.run_id)
    job = run.job
    job_type = registry.job_type(job.job_type)
    account = session.get(Account, job.account_id)
    event = session.get(Event, job.event_id) if job.event_id else None
    config = session.get(PluginConfig, job.plugin_config_id)
    connection = ConnectionSettings({**(config.connection or {}), **box.open(config.secrets)}, config.id)
    mappings = Mappings(Mapping(m.direction, m.certain_field, m.remote_field, m.transform, m.update_policy,
                                m.is_match_key, m.required) for m in config.mappings)
    params = job_type.params_schema().load(job.params or {})
    checkpoint, log_lines = run.checkpoint, list(run.log or [])
    retrying = run.trigger == RETRY_TRIGGER
    previous = _previous_runs(session, run)
    if checkpoint is None and not retrying and previous.get("last_ended") is not None \
            and previous["last_ended"].status == "quota_exhausted":
        checkpoint = previous["last_ended"].checkpoint
        log_lines.append(runs.log_entry("info", f"resuming where run #{previous['last_ended'].id} stopped (API quota)"))
    ctx = JobContext(
        factory=factory, session=session, claim=claim,
        store=Store(session, account, event, actor={"type": "job", "id": str(job.id)}),
        connection=connection, mappings=mappings, checkpoint=checkpoint,
        counters=dict(run.counters or {}), progress=(run.progress_done or 0, run.progress_total),
        log_lines=log_lines, job_id=job.id,
        since=previous["last_success"].started_at if previous.get("last_success") is not None else None,
        connection_state=ConnectionState(factory, box, config.id, session=session),
        catch_up=lambda since=None: deliveries.catch_up(session, registry, job.id, since),
        only_keys=(run.retry_keys or []) if retrying else None)
    ctx._facts = RunFacts(job.id, run.trigger, validation.needs_check(job_type, job.validation_state))
    session.commit()  # hold no transaction (nor SQLite's write lock) while the handler waits on the network
    return job_type, params, ctx


@dataclass(frozen=True)
class RunFacts:
    """What the executor needs to know about the run beyond its context."""

    job_id: int
    trigger: str
    needs_check: bool


def _previous_runs(session, run: JobRun) -> dict[str, JobRun | None]:
    """The job's last ended run and last successful one before this run, retry runs left out: a
    retry did only the records asked for, so it neither moves the watermark nor leaves a
    checkpoint for the next run to resume from."""
    earlier = (select(JobRun).where(JobRun.job_id == run.job_id, JobRun.id < run.id, JobRun.trigger != RETRY_TRIGGER)
               .order_by(JobRun.id.desc()))
    return {
        "last_ended": session.scalar(earlier.where(JobRun.status.in_(ENDED_RUN_STATUSES)).limit(1)),
        "last_success": session.scalar(earlier.where(JobRun.status == "succeeded").limit(1)),
    }


#: what ``execute_run`` returns when a database outage broke the attempt off (nothing was written)
INTERRUPTED = "interrupted"
#: attempts a run may lose to database outages before such an error fails it like any other
OUTAGE_ATTEMPTS = 5


def execute_run(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox, claim: Claim,
                lease_seconds: int) -> str:
    """Run a claimed run to its end; returns its final status ("lost" if another worker took
    over). A database outage during the handler is not the run's failure: the attempt is given
    up with its work rolled back ("interrupted"), its lease runs out, and the reaper queues the
    next attempt, which resumes from the last checkpoint — up to ``OUTAGE_ATTEMPTS`` attempts,
    so a database error that never clears still ends the run."""
    keeper = LeaseKeeper(factory, claim, lease_seconds)
    keeper.start()
    ctx = None
    try:
        try:
            job_type, params, ctx = build_context(factory, registry, box, claim)
        except Exception as exc:
            return _fail_before_start(factory, claim, exc)
        ctx.log.info("attempt %s started on %s", claim.attempt + 1, claim.worker)
        error, quota = None, False
        try:
            facts = ctx._facts
            if facts.needs_check:
                validation.run_check(ctx, registry, job_type, params, facts.job_id)
            if facts.trigger != validation.VALIDATE_TRIGGER:
                job_type.run(ctx, params)
        except LeaseLost:
            raise
        except QuotaExhausted as exc:  # keep what was saved: the next run resumes from it
            ctx.discard()
            error, quota = f"{exc.code}: {exc}" if exc.code else str(exc), True
            ctx.log.warning("API quota exhausted: %s", error)
        except JobFailed as exc:
            ctx.discard()
            error = f"{exc.code}: {exc}" if exc.code else str(exc)
            ctx.log.error("run failed: %s", error)
        except Exception as exc:  # a handler bug must end the run, not the worker
            ctx.discard()
            if unavailable(exc) and claim.attempt < OUTAGE_ATTEMPTS:
                log.warning("run %s attempt %s interrupted: the database is unavailable (%s); its lease will expire "
                            "and the next attempt resumes from the checkpoint", claim.run_id, claim.attempt,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                return INTERRUPTED
            error = f"unexpected error: {exc!r}"
            ctx.log.error("%s\n%s", error, traceback.format_exc(limit=5))
        status = final_status(ctx.counters, error=error is not None, cancelled=error is None and ctx.cancelled(),
                              quota=quota)
        ctx.log.info("run ended: %s (%s)", status, ", ".join(f"{k} {v}" for k, v in sorted(ctx.counters.items())) or "no records")
        ctx.commit(status=status, error=error, ended_at=utcnow(), lease_until=None)
        _settle(factory, claim.run_id)
        return status
    except LeaseLost as exc:
        log.warning("%s", exc)
        return "lost"
    finally:
        keeper.stop()
        if ctx is not None:
            ctx.close()


def _fail_before_start(factory, claim: Claim, exc: Exception) -> str:
    message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, KeyError):
        message += " (is its plugin installed and loaded? see `connectors plugins`)"
    with transaction(factory) as s:
        run = s.get(JobRun, claim.run_id)
        if run is None or run.status != "running" or run.attempt != claim.attempt or run.worker != claim.worker:
            return "lost"
        run.status, run.error, run.ended_at, run.lease_until = "failed", message, utcnow(), None
        run.log = [*(run.log or []), runs.log_entry("error", f"could not start: {message}")]
        s.flush()
        runs.settle_job(s, run.job_id)
    return "failed"


def _settle(factory, run_id: int) -> None:
    with transaction(factory) as s:
        run = s.get(JobRun, run_id)
        runs.settle_job(s, run.job_id)
