"""Relay, worker and scheduler in one process on memory:// — the ``connectors demo`` mode."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from connectors.bus import Embedded
from connectors.config import Settings
from connectors.db import read_session_factory, transaction
from connectors.jobs.submit import submit
from connectors.models import Account, Event, JobRun
from connectors.services import Services

from .slowimport_plugin import IMPORT
from .support import wait_for


def test_embedded_runs_a_submitted_job_and_fires_a_schedule(harness, tmp_path):
    settings = Settings(instance_dir=tmp_path, database_url=str(harness.engine.url), broker_url="memory://",
                        bus_namespace=f"embedded{id(harness)}", secret_key="x", lease_seconds=5)
    services = Services(settings=settings, engine=harness.engine, factory=harness.factory,
                        read_factory=read_session_factory(harness.engine), registry=harness.registry, box=harness.box)
    now_run = harness.submit(IMPORT, {"total": 2})
    with transaction(harness.factory) as s:  # a one-off schedule already due: the scheduler fires it
        account = s.scalar(select(Account))
        event = s.scalar(select(Event))
        job = submit(s, harness.registry, account=account, event=event, job_type_key=IMPORT, params={"total": 3},
                     schedule={"mode": "once", "run_at": datetime.now(timezone.utc).isoformat()}, via="test")
        scheduled_job = job.id

    embedded = Embedded(services, interval=0.05).start()
    try:
        assert embedded.running
        wait_for(lambda: harness.result(now_run).status == "succeeded", what="the run-now job")
        fired = wait_for(lambda: _runs_of(harness, scheduled_job), what="the schedule to fire")
        wait_for(lambda: harness.result(fired[0]).status == "succeeded", what="the scheduled run")
    finally:
        embedded.stop()
    assert not embedded.running
    embedded.stop()  # idempotent


def _runs_of(harness, job_id):
    with harness.factory() as s:
        return list(s.scalars(select(JobRun.id).where(JobRun.job_id == job_id)))
