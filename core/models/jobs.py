"""What users submit (Job, Schedule) and what workers do with it (JobRun, RunRecord)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

#: listening: an event-triggered job between its runs — it reacts to each status change until it
#: is disabled or its schedule's end passes
JOB_STATES = ("scheduled", "running", "listening", "ended", "disabled")
RUN_STATUSES = ("queued", "running", "succeeded", "partially_failed", "quota_exhausted", "failed", "cancelled")
#: quota_exhausted: the target's API budget ran out; the job's next run resumes from this one's checkpoint
ENDED_RUN_STATUSES = ("succeeded", "partially_failed", "quota_exhausted", "failed", "cancelled")
OUTCOMES = ("created", "updated", "unchanged", "skipped", "failed")
#: a job whose type checks its parameters against the target (``JobType.validate``) is ``pending``
#: until a worker ran the check, then ``valid`` or ``failed``; None: its type checks nothing
VALIDATION_STATES = ("pending", "valid", "failed")


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    plugin_config_id: Mapped[int] = mapped_column(ForeignKey("plugin_configs.id"))
    job_type: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_email: Mapped[str | None] = mapped_column(String(320))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_via: Mapped[str] = mapped_column(String(16), default="web")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    validation_state: Mapped[str | None] = mapped_column(String(16))
    validation_message: Mapped[str | None] = mapped_column(Text)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: its type reacts to status-change events (``JobType.triggers``): ``listening``, not ``ended``, between runs
    listens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    schedule: Mapped["Schedule"] = relationship(back_populates="job", uselist=False, cascade="all, delete-orphan")
    runs: Mapped[list["JobRun"]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobRun.id.desc()"
    )
    submitted_by = relationship("User")
    event = relationship("Event")
    plugin_config = relationship("PluginConfig")


class Schedule(Base):
    """Once (``run_at``) or recurring (an RFC 5545 RRULE read in ``timezone``)."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    mode: Mapped[str] = mapped_column(String(16))  # once | recurring
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rrule: Mapped[str | None] = mapped_column(Text)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    job: Mapped[Job] = relationship(back_populates="schedule")


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | schedule | retry
    #: a retry run (trigger "retry"): the run whose problems it retries, and the record keys asked for
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id", ondelete="SET NULL"))
    retry_keys: Mapped[list[str] | None] = mapped_column(JSON)
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(24), default="queued", index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    counters: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    job: Mapped[Job] = relationship(back_populates="runs")

    @property
    def ended(self) -> bool:
        return self.status in ENDED_RUN_STATUSES


class RunRecord(Base):
    """One record's outcome in a run; failed and skipped ones feed the problems view."""

    __tablename__ = "run_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"), index=True)
    record_key: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: an administrator or event builder looked at it and let it be: hidden from the open problems
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_by: Mapped[str | None] = mapped_column(String(320))


class LedgerEntry(Base):
    """What a job already did for a key (a registration it triggered a campaign for, with the
    status it had): recurring runs skip keys whose fingerprint has not changed."""

    __tablename__ = "job_ledger"
    __table_args__ = (UniqueConstraint("job_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(320))
    fingerprint: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
