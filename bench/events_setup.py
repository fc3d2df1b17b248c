"""What bench/events.py sets up: the Eloqua sandbox in a process of its own, a database of its
own, the seeded account with one registration per contact, the job, and the production processes
(``connectors worker``, ``relay``, ``dispatcher``) with their CPU time and logged problems."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import insert

from common import ForkedServer, postgres_database

ROOT = Path(__file__).resolve().parent.parent
REG_JOB = "eloqua.activity_on_registration_status"
LIST_NAME = "Benchmark contacts"


# -- the Eloqua sandbox, in a process of its own --------------------------------------------------------
class SandboxProcess(ForkedServer):
    """A seeded ``EloquaSandbox`` served from a forked child with ``people`` extra contacts
    (``bench<i>@example.com``), all in the list ``LIST_NAME``, and ``latency`` seconds per call."""

    def __init__(self, people: int, latency: float):
        super().__init__(_serve_sandbox, {"people": people, "latency": latency})

    @property
    def connection(self) -> dict[str, Any]:
        return self.ready[0]

    @property
    def contact_ids(self) -> list[int]:
        return self.ready[1]


def _serve_sandbox(pipe: Any, options: dict[str, Any]) -> None:
    from connectors_eloqua.sandbox import start_sandbox

    sandbox = start_sandbox()  # the demo's data: asset types with their activity types, campaigns
    ids = [c["id"] for c in sandbox.add_contacts(
        {"C_EmailAddress": f"bench{i}@example.com", "C_FirstName": f"First{i % 97}", "C_LastName": f"Last{i % 89}",
         "C_Company": f"Company {i % 41}", "C_City": "Lyon", "C_Country": "France"} for i in range(options["people"]))]
    sandbox.add_list(LIST_NAME, ids)
    sandbox.set_latency(options["latency"])
    pipe.send((sandbox.connection, ids))
    while (command := pipe.recv()) != "stop":
        if command == "activities":  # (created at, contact id, activity id) of every activity created
            pipe.send([(e.timestamp, int(e.body["contactId"]), (e.response or {}).get("id"))
                       for e in sandbox.journal.filter("POST", r"(?i)/api/rest/2\.0/data/activity", status=201)])
        elif command == "count":
            with sandbox.lock:
                pipe.send(len(sandbox.activities.activities))
        elif command == "stored":  # contact id of every activity the store holds (the truth for duplicates)
            with sandbox.lock:
                pipe.send([a.contact_id for a in sandbox.activities.activities.values()])
        elif command == "calls":
            entries = sandbox.journal.entries()
            counts: dict[str, int] = {}
            for e in entries:
                key = f"{e.method} {e.path} {e.status}"
                counts[key] = counts.get(key, 0) + 1
            pipe.send(counts)
    sandbox.stop()


# -- a database of its own -------------------------------------------------------------------------------
@contextmanager
def database(kind: str, admin_url: str) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database(admin_url, prefix="bench_events") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-events-") as folder:
            yield f"sqlite:///{folder}/connectors.db"


def seed(services: Any, connection: dict[str, Any], contact_ids: list[int]) -> tuple[int, list[int]]:
    """Account, event, the Eloqua configuration and one registration per contact (its Eloqua id
    stored, as an import leaves it); returns the event id and the registration ids."""
    from connectors.db import transaction
    from connectors.models import Profile, Registration, utcnow
    from connectors.seed import configure_plugin, get_or_create_account, get_or_create_event

    with transaction(services.factory) as s:
        account = get_or_create_account(s, "BENCH", "Benchmark account")
        event = get_or_create_event(s, account, "BENCH26", "Benchmark Summit")
        configure_plugin(s, services.registry, services.box, account, "eloqua", connection)
        now = utcnow()
        profiles = s.execute(insert(Profile).returning(Profile.id), [
            {"account_id": account.id, "pin": f"P{i:09d}", "email": f"bench{i}@example.com", "first_name": "Bench",
             "last_name": f"Person{i}", "external_ids": {"eloqua_contact_id": str(cid)}}
            for i, cid in enumerate(contact_ids)]).scalars().all()
        regs = s.execute(insert(Registration).returning(Registration.id), [
            {"event_id": event.id, "profile_id": pid, "registration_code": f"RB{i:09d}", "attendee_type_code": "Attendee",
             "status_label": "New", "source": "bench", "external_ids": {"eloqua_contact_id": str(cid)}, "version": 1,
             "date_created": now, "date_modified": now}
            for i, (pid, cid) in enumerate(zip(profiles, contact_ids))]).scalars().all()
        return event.id, list(regs)


def submit_job(services: Any, event_id: int) -> int:
    from connectors.db import transaction
    from connectors.jobs.submit import submit
    from connectors.models import Event

    with transaction(services.factory) as s:
        event = s.get(Event, event_id)
        job = submit(s, services.registry, account=event.account, event=event, job_type_key=REG_JOB, params={},
                     via="bench")
        return job.id


def wait_until(predicate: Any, timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


# -- the processes of production ------------------------------------------------------------------------
class Processes:
    """``connectors worker``, ``relay`` and ``dispatcher``, each a process, stopped by SIGTERM."""

    def __init__(self, env: dict[str, str], log: Path, names: tuple[str, ...] = ("worker", "relay", "dispatcher")):
        self.env, self.log, self.names = env, log, names
        self.procs: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> "Processes":
        with self.log.open("ab") as log:  # each child keeps its own handle
            for name in self.names:
                self.procs[name] = subprocess.Popen([sys.executable, "-m", "connectors", name], env=self.env, cwd=ROOT,
                                                    stdout=log, stderr=log)
        return self

    def problems(self) -> list[str]:
        """Warnings, errors and tracebacks the processes logged (their INFO lines are left out)."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return [line for line in lines if any(word in line for word in ("WARNING", "ERROR", "Traceback"))][:20]

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU each process has used so far (from /proc)."""
        return {name: process_cpu_seconds(proc.pid) for name, proc in self.procs.items()}

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU the process has used so far (from /proc), None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, IndexError, ValueError):
        return None


class ServerCpu:
    """CPU used by the servers for this case: the PostgreSQL backends connected to its database
    (a backend that closed before the last sample is not counted), and RabbitMQ's whole node —
    shared with anything else using the broker meanwhile, so an upper bound."""

    def __init__(self, services: Any, broker_url: str):
        self.services, self.amqp = services, broker_url.startswith("amqp")
        self.postgres = services.engine.dialect.name == "postgresql"
        self._backends: dict[int, float] = {}
        self._node_start: float | None = None

    def sample(self) -> dict[str, float | None]:
        """CPU seconds since the first sample (0 on the first)."""
        out: dict[str, float | None] = {}
        if self.postgres:
            from sqlalchemy import text

            with self.services.engine.connect() as conn:
                pids = list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
                            .scalars())
            now = {pid: process_cpu_seconds(pid) or 0.0 for pid in pids}
            first = not self._backends
            for pid, cpu in now.items():  # a backend first seen later started since: all its CPU counts
                self._backends.setdefault(pid, cpu if first else 0.0)
            out["postgresql"] = round(sum(cpu - self._backends[pid] for pid, cpu in now.items()), 1)
        if self.amqp:
            node = sum(process_cpu_seconds(int(pid)) or 0.0 for pid in _pids_of("beam.smp"))
            if self._node_start is None:
                self._node_start = node
            out["rabbitmq"] = round(node - self._node_start, 1)
        return out


def _pids_of(name: str) -> list[str]:
    return [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _comm(p) == name]


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def status_consumers(url: str, namespace: str) -> int:
    from connectors.bus import Topology, connect

    conn = connect(url)
    try:
        queue = Topology.for_url(url, namespace).status_events_queue(conn.default_channel)
        return queue.queue_declare(passive=True).consumer_count
    except Exception:  # noqa: BLE001 - not declared yet
        return 0
    finally:
        conn.release()


def delete_topology(url: str, namespace: str) -> None:
    from connectors.bus import Topology, connect

    conn = connect(url)
    try:
        Topology.for_url(url, namespace).delete(conn.default_channel)
    finally:
        conn.release()
