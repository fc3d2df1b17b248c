"""One scenario's world: a fresh database on the private PostgreSQL, a bus namespace on the
private RabbitMQ, the Eloqua sandbox process with ``people`` contacts (all in ``LIST_NAME``),
the seeded account ``BENCH`` (event ``BENCH26`` with one registration per contact, as an import
leaves them, and an empty event ``IMPORT26`` to import into), and the production processes.
``build_with`` makes the resumable jobs' world instead: any applications' sandboxes, each in a
process of its own (``support.ForkedSandbox``), configured on an empty event ``JOBS26``."""
from __future__ import annotations

import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .processes import ProductionProcesses, production_env
from .servers import PrivatePostgres, PrivateRabbitMQ
from .support import IMPORT_JOB, LIST_NAME, REG_JOB, ForkedSandbox, SandboxProcess, new_database, seed, submit_job


class Stack:
    def __init__(self, postgres: PrivatePostgres, rabbitmq: PrivateRabbitMQ, folder: Path):
        self.postgres, self.rabbitmq, self.folder = postgres, rabbitmq, folder
        self.namespace = f"faults{uuid.uuid4().hex[:8]}"
        self.broker_url = rabbitmq.url
        self._exit = ExitStack()
        self.sandbox: SandboxProcess | None = None
        self.sandboxes: dict[str, ForkedSandbox] = {}  # build_with's, by application
        self.services: Any = None
        self.processes: ProductionProcesses | None = None

    def build(self, people: int = 200, latency: float = 0.0) -> "Stack":
        """Sandbox first (it is forked: before this process opens any database connection)."""
        self.sandbox = self._exit.enter_context(SandboxProcess(people, latency))
        self._services()
        self.event_id, self.reg_ids = seed(self.services, self.sandbox.connection, self.sandbox.contact_ids)
        self.import_event_id = self._import_event()
        self.processes = ProductionProcesses(self.env, self.folder)
        return self

    def build_with(self, sandboxes: dict[str, "ForkedSandbox"]) -> "Stack":
        """The resumable jobs' world: the given application sandboxes, each in a process of its own
        (forked first), a fresh database, account ``BENCH`` with the empty event ``JOBS26`` (``event_id``)
        and each application configured on it with its sandbox's connection; no process yet."""
        self.sandboxes = {name: self._exit.enter_context(box) for name, box in sandboxes.items()}
        from connectors.db import transaction
        from connectors.seed import configure_plugin, get_or_create_account, get_or_create_event

        self._services()
        with transaction(self.services.factory) as s:
            account = get_or_create_account(s, "BENCH", "Benchmark account")
            self.event_id = get_or_create_event(s, account, "JOBS26", "Resumable jobs").id
            for name, box in self.sandboxes.items():
                configure_plugin(s, self.services.registry, self.services.box, account, name, box.connection)
        self.processes = ProductionProcesses(self.env, self.folder)
        return self

    def _services(self) -> None:
        """A fresh, migrated database and the services of this process on it."""
        from connectors.config import Settings
        from connectors.migrations import upgrade
        from connectors.services import Services

        self.database_url = new_database(self.postgres.admin_url)
        upgrade(self.database_url)
        instance = self.folder / "instance"
        instance.mkdir(exist_ok=True)
        self.env = production_env(self.database_url, self.broker_url, self.namespace, instance)
        self.services = Services.from_settings(Settings(
            database_url=self.database_url, broker_url=self.broker_url, bus_namespace=self.namespace,
            secret_key=self.env["CONNECTORS_SECRET_KEY"], instance_dir=instance))
        self._exit.callback(self.services.close)

    def submit(self, job_type: str, params: dict[str, Any]) -> int:
        """Submit ``job_type`` on event ``event_id``; the run's id."""
        from sqlalchemy import select

        from connectors.db import transaction
        from connectors.jobs.submit import submit
        from connectors.models import Event, JobRun

        with transaction(self.services.factory) as s:
            event = s.get(Event, self.event_id)
            job_id = submit(s, self.services.registry, account=event.account, event=event, job_type_key=job_type,
                            params=params, via="faults").id
        with self.services.factory() as s:
            return s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))

    def _import_event(self) -> int:
        from connectors.db import transaction
        from connectors.seed import get_or_create_account, get_or_create_event

        with transaction(self.services.factory) as s:
            account = get_or_create_account(s, "BENCH", "Benchmark account")
            return get_or_create_event(s, account, "IMPORT26", "Import target").id

    def start(self, *commands: str) -> None:
        for command in commands:
            self.processes.start(command)

    def submit_activity_job(self) -> int:
        return submit_job(self.services, self.event_id)

    def submit_import(self, page_size: int = 50) -> int:
        """Import Eloqua Contacts as Registrations of the whole list into ``IMPORT26``; the run's id."""
        from connectors.db import transaction
        from connectors.jobs.submit import submit
        from connectors.models import Event, JobRun

        from sqlalchemy import select

        with transaction(self.services.factory) as s:
            event = s.get(Event, self.import_event_id)
            job = submit(s, self.services.registry, account=event.account, event=event, job_type_key=IMPORT_JOB,
                         params={"contact_list_name": LIST_NAME, "page_size": page_size}, via="faults")
            job_id = job.id
        with self.services.factory() as s:
            return s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))

    def activities(self) -> list[int]:
        """Contact id of every activity the sandbox stores (the truth for lost and duplicated)."""
        return self.sandbox.ask("stored")

    def close(self) -> None:
        try:
            if self.processes is not None:
                self.processes.stop_all()
                self.processes.dump()
        finally:
            self._exit.close()


__all__ = ["Stack", "REG_JOB"]


def activity_stack(stack: Stack, people: int, latency: float = 0.01) -> int:
    """``stack`` built with relay, worker and dispatcher running and the activity job accepted and
    consumed for: status changes from now on become activities. Returns the job's id."""
    from .support import status_consumers, validation_state, wait_until

    stack.build(people=people, latency=latency)
    stack.start("relay", "worker", "dispatcher")
    job_id = stack.submit_activity_job()
    wait_until(lambda: validation_state(stack.services, job_id) == "valid", 120, "the worker to accept the job")
    wait_until(lambda: status_consumers(stack.broker_url, stack.namespace) > 0, 120, "the dispatcher to consume")
    return job_id
