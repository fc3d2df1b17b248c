"""Submitting jobs: the one entry point used by the admin, the JSON API and the CLI."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import outbox
from ..errors import flatten_messages
from ..models import Account, AttendeeType, Event, Job, JobRun, PluginConfig, RegistrationStatus, Schedule, User, utcnow
from ..plugins import PluginManager
from ..schedules import ScheduleSchema, initial_next_run, to_columns
from . import runs, validation


class SubmitError(ValueError):
    """Invalid input: ``messages`` maps each field (``params.static_list`` …) to its reasons."""

    def __init__(self, messages: dict[str, list[str]]):
        self.messages = messages
        super().__init__("; ".join(f"{field}: {' '.join(reasons)}" for field, reasons in messages.items()))


def event_choices(session: Session, event: Event) -> dict[str, list[str]]:
    """Choices a job form takes from the event: its attendee types and registration statuses."""
    return {
        "attendee_types": list(session.scalars(select(AttendeeType.code).where(AttendeeType.event_id == event.id).order_by(AttendeeType.id))),
        "registration_statuses": list(session.scalars(select(RegistrationStatus.label).where(RegistrationStatus.event_id == event.id).order_by(RegistrationStatus.id))),
    }


def submit(session: Session, registry: PluginManager, *, account: Account, event: Event | None, job_type_key: str,
           params: dict[str, Any], schedule: dict[str, Any] | None = None, submitted_by: User | None = None,
           name: str | None = None, notify_email: str | None = None, via: str = "web") -> Job:
    """Validate and write a job (+ schedule, + a queued run and its outbox row when it runs now),
    all in the caller's transaction. Raises ``SubmitError`` naming each bad field. A job type
    that checks its parameters against the target (``JobType.validate``) gets a run at once
    whatever its schedule: a worker checks them (see ``validation``)."""
    errors: dict[str, list[str]] = {}
    try:
        job_type = registry.job_type(job_type_key)
    except KeyError:
        raise SubmitError({"job_type": [f"unknown job type {job_type_key!r}; installed: {', '.join(sorted(registry.job_types)) or 'none'}"]}) from None
    if event is not None and event.account_id != account.id:
        raise SubmitError({"event": ["event not found in this account"]})
    if job_type.scope == "event" and event is None:
        errors["event"] = [f"{job_type.label} runs for an event: choose one"]
    if job_type.scope == "account" and event is not None:
        errors["event"] = [f"{job_type.label} runs at account level: no event"]
    if event is not None and event.enabled_applications and job_type.application not in event.enabled_applications:
        errors["application"] = [f"{job_type.application} is not enabled for event {event.event_code}"]
    config = session.scalar(select(PluginConfig).where(PluginConfig.account_id == account.id,
                                                       PluginConfig.application == job_type.application))
    if config is None or not config.enabled:
        errors["application"] = [f"no enabled {job_type.application} plugin configuration in this account: an administrator sets it up under Third-Party Plugins"]
    loaded: dict[str, Any] = {}
    try:
        loaded = job_type.params_schema().load(params or {})
    except ValidationError as exc:
        errors.update(flatten_messages(exc.messages, "params"))
    if event is not None and job_type.event_choices:
        choices = event_choices(session, event)
        for field, catalogue in job_type.event_choices.items():
            value = loaded.get(field, (params or {}).get(field))
            allowed = choices.get(catalogue, [])
            values = value if isinstance(value, (list, tuple)) else [value] if value is not None else []
            unknown = [v for v in values if v not in allowed]
            if unknown and f"params.{field}" not in errors:
                errors[f"params.{field}"] = [f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
                                             f"among the event's {catalogue.replace('_', ' ')}: {', '.join(allowed)}"]
    spec = None
    try:
        spec = ScheduleSchema(default_timezone=event.timezone if event else "UTC").load(schedule or {"mode": "once"})
    except ValidationError as exc:
        errors.update(flatten_messages(exc.messages, "schedule"))
    if errors:
        raise SubmitError(errors)

    job = Job(account_id=account.id, event_id=event.id if event else None, plugin_config_id=config.id,
              job_type=job_type.key, name=(name or "").strip() or f"{job_type.label} – {event.event_code if event else account.account_code}",
              params=job_type.params_schema().dump(loaded), state="scheduled", enabled=True,
              listens=bool(job_type.triggers),
              notify_email=notify_email or None, submitted_by_id=submitted_by.id if submitted_by else None,
              submitted_via=via, submitted_at=utcnow(), validation_state=validation.initial_state(job_type))
    session.add(job)
    session.flush()
    run_now = spec.mode == "once" and spec.run_at is None
    job.schedule = Schedule(job_id=job.id, **to_columns(spec),
                            next_run_at=None if run_now else initial_next_run(spec, utcnow()))
    session.flush()
    if run_now:
        runs.enqueue(session, job, trigger="manual")
    elif job.validation_state == validation.PENDING:
        validation.enqueue_check(session, job)
    return job


def run_now(session: Session, job: Job) -> JobRun:
    """An extra run of an existing job, outside its schedule; never two runs of one job at once."""
    if not job.enabled:
        raise SubmitError({"job": ["the job is disabled: enable it before running it"]})
    if session.scalar(select(JobRun.id).where(JobRun.job_id == job.id, JobRun.status.in_(("queued", "running"))).limit(1)):
        raise SubmitError({"job": ["a run of this job is already queued or running"]})
    return runs.enqueue(session, job, trigger="manual")


def set_enabled(session: Session, job: Job, enabled: bool) -> None:
    """A disabled job keeps its schedule but the scheduler skips it; its state follows the runs.
    Enabling a job whose parameters were refused checks them again (a run does it at once)."""
    job.enabled = enabled
    session.flush()
    if enabled and job.validation_state == validation.FAILED:
        validation.reset(session, job)
        session.flush()
        validation.enqueue_check(session, job)
    runs.settle_job(session, job.id)


def clear_ended_jobs(session: Session, account_id: int, event_id: int | None) -> int:
    """"Clear All Jobs": delete this scope's ended jobs, never scheduled, running or disabled ones."""
    scope = Job.event_id == event_id if event_id is not None else Job.event_id.is_(None)
    ids = list(session.scalars(select(Job.id).where(Job.account_id == account_id, scope, Job.state == "ended")))
    if not ids:
        return 0
    busy = set(session.scalars(select(JobRun.job_id).where(JobRun.job_id.in_(ids), JobRun.status.in_(("queued", "running")))))
    ids = [i for i in ids if i not in busy]
    outbox.forget_runs(session, list(session.scalars(select(JobRun.id).where(JobRun.job_id.in_(ids)))))
    for job in session.scalars(select(Job).where(Job.id.in_(ids))):
        session.delete(job)  # cascades to schedule, runs and their records
    session.flush()
    return len(ids)
