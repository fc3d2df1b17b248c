"""Test helpers for plugin authors: a real (temporary) database, a seeded event, and a way to run
a job type end to end without a bus. Also the contract every connector plugin should pass.

    harness = Harness(tmp_path, plugins={"marketo": connectors_marketo.plugin})
    harness.configure("marketo", {...connection...})
    result = harness.run("marketo.import_leads_as_registrations", {"static_list_name": "..."})
    assert result.status == "succeeded"
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .db import make_engine, read_session_factory, session_factory, transaction
from .models import Base, Event, Job, JobRun, Profile, Registration, RunRecord, StatusChangeEvent, utcnow
from .plugin_api import Application, JobType
from .plugins import PluginManager
from .secrets import SecretBox
from .seed import configure_plugin, get_or_create_account, get_or_create_event

ACCOUNT_CODE, EVENT_CODE = "TEST", "TEST26"


@dataclass
class RunResult:
    run_id: int
    status: str
    counters: dict[str, int]
    error: str | None
    records: list[dict[str, Any]]
    log: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None


class Harness:
    """One temporary database with account ``TEST`` and event ``TEST26``."""

    def __init__(self, tmp_path: Path | str, plugins: dict[str, object] | None = None,
                 registry: PluginManager | None = None, database_url: str | None = None):
        self.engine = make_engine(database_url or f"sqlite:///{Path(tmp_path) / 'connectors-test.db'}")
        Base.metadata.create_all(self.engine)
        self.factory = session_factory(self.engine)
        self.read_factory = read_session_factory(self.engine)  # assertions never wait on a run's writes
        self.box = SecretBox("connectors-testing")
        if registry is None:
            registry = PluginManager()
            if plugins is None:
                registry.load_entry_points()
            for name, module in (plugins or {}).items():
                registry.add(name, module)
        self.registry = registry
        with transaction(self.factory) as s:
            account = get_or_create_account(s, ACCOUNT_CODE, "Test account")
            get_or_create_event(s, account, EVENT_CODE, "Test event", tz="Europe/Paris")
        self._worker_seq = 0

    def configure(self, application: str, connection: dict[str, Any], mappings: bool = True) -> None:
        with transaction(self.factory) as s:
            account = get_or_create_account(s, ACCOUNT_CODE, "Test account")
            configure_plugin(s, self.registry, self.box, account, application, connection, with_default_mappings=mappings)

    def submit(self, job_type: str, params: dict[str, Any], *, event: bool = True) -> int:
        """Submit a run-now job as the core's ``submit`` does; returns the queued run id."""
        from .jobs.submit import submit  # noqa: PLC0415

        with transaction(self.factory) as s:
            account = get_or_create_account(s, ACCOUNT_CODE, "Test account")
            ev = s.scalar(select(Event).where(Event.account_id == account.id, Event.event_code == EVENT_CODE)) if event else None
            job = submit(s, self.registry, account=account, event=ev, job_type_key=job_type, params=params, via="test")
            s.flush()
            return job.runs[0].id if job.runs else s.scalar(select(JobRun.id).where(JobRun.job_id == job.id))

    def execute(self, run_id: int, lease_seconds: int = 30) -> RunResult:
        from .jobs.execute import execute_run  # noqa: PLC0415
        from .jobs.runs import claim  # noqa: PLC0415

        self._worker_seq += 1
        got = claim(self.factory, run_id, f"test-worker-{self._worker_seq}", lease_seconds)
        if got is None:
            raise AssertionError(f"run {run_id} could not be claimed (not queued)")
        execute_run(self.factory, self.registry, self.box, got, lease_seconds)
        return self.result(run_id)

    def run(self, job_type: str, params: dict[str, Any], *, event: bool = True) -> RunResult:
        return self.execute(self.submit(job_type, params, event=event))

    def rerun(self, run_id: int) -> RunResult:
        """Run the same job again (as "Run now" does)."""
        from .jobs.runs import enqueue  # noqa: PLC0415

        with transaction(self.factory) as s:
            job = s.get(Job, s.get(JobRun, run_id).job_id)
            new_id = enqueue(s, job).id
        return self.execute(new_id)

    def result(self, run_id: int) -> RunResult:
        with self.read_factory() as s:
            run = s.get(JobRun, run_id)
            records = [{"key": r.record_key, "outcome": r.outcome, "code": r.code, "message": r.message, "stage": r.stage}
                       for r in s.scalars(select(RunRecord).where(RunRecord.run_id == run_id).order_by(RunRecord.id))]
            return RunResult(run.id, run.status, dict(run.counters or {}), run.error, records, list(run.log or []), run.checkpoint)

    def profiles(self) -> list[dict[str, Any]]:
        with self.read_factory() as s:
            return [{c.name: getattr(p, c.name) for c in Profile.__table__.columns} for p in s.scalars(select(Profile).order_by(Profile.id))]

    def registrations(self) -> list[dict[str, Any]]:
        with self.read_factory() as s:
            rows = s.execute(select(Registration, Profile).join(Profile).order_by(Registration.id))
            return [{"registration_code": r.registration_code, "status_label": r.status_label,
                     "attendee_type_code": r.attendee_type_code, "version": r.version, "email": p.email,
                     "profile_id": p.id, "source": r.source} for r, p in rows]

    def status_events(self) -> list[dict[str, Any]]:
        with self.read_factory() as s:
            return [e.payload for e in s.scalars(select(StatusChangeEvent).order_by(StatusChangeEvent.occurred_at))]

    def close(self) -> None:
        self.engine.dispose()


def edit_registration(harness: Harness, code: str, status: str | None = None, later: bool = False,
                      **profile_fields: Any) -> None:
    """Change a registration (its status, or its profile's fields) behind a job's back, as a
    person in the event platform would; ``later`` moves its modification time an hour ahead."""
    with transaction(harness.factory) as s:
        reg = s.scalar(select(Registration).where(Registration.registration_code == code))
        if status is not None:
            reg.status_label, reg.version = status, reg.version + 1
        if later:
            reg.date_modified = utcnow() + timedelta(hours=1)
        profile = s.get(Profile, reg.profile_id)
        for name, value in profile_fields.items():
            setattr(profile, name, value)


def registrations_by_email(harness: Harness) -> dict[str, dict[str, Any]]:
    return {r["email"]: r for r in harness.registrations()}


def check_plugin_contract(plugin: object, name: str = "plugin-under-test") -> PluginManager:
    """Load one plugin alone and check what every connector plugin must hold; returns the registry."""
    registry = PluginManager()
    assert registry.add(name, plugin), f"plugin did not load: {registry.load_errors}"
    for app in registry.applications.values():
        assert isinstance(app, Application) and app.name and app.label
        app.connection_schema()  # instantiable
        for m in app.default_mappings:
            assert m.direction in ("inbound", "outbound"), m
    for key, jt in registry.job_types.items():
        assert isinstance(jt, JobType)
        assert key.startswith(jt.application + "."), f"job type key {key!r} should start with {jt.application!r}."
        assert jt.label and callable(jt.run)
        schema = jt.params_schema()
        for field_name, field in schema.fields.items():
            assert field.metadata.get("label") or field.metadata.get("description"), \
                f"{key}: parameter {field_name!r} needs metadata label or description for its form"
    return registry
