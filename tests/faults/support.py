"""What the fault scenarios share: a database and a bus namespace of the test's own on the
private servers, the Eloqua sandbox in a process of its own (bench/events_setup.SandboxProcess,
seeded with ``people`` contacts in one shared list) or any application's sandbox forked with the
data a scenario gives it (``ForkedSandbox``), the seeded account, the counts every
scenario asserts, and where the measured recovery times go.

Recovery times: each scenario appends one JSON line per fault to ``bench/results/faults.jsonl``
(scenario, fault, recovery seconds, load average, time); docs/reliability.md tabulates them.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from common import ForkedServer  # noqa: E402
from events_setup import LIST_NAME, REG_JOB, SandboxProcess, seed, status_consumers, submit_job  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "faults.jsonl"
IMPORT_JOB = "eloqua.import_contacts_as_registrations"

__all__ = ["LIST_NAME", "REG_JOB", "SandboxProcess", "seed", "status_consumers", "submit_job", "IMPORT_JOB",
           "wait_until", "record_recovery", "StatusWriter", "ForkedSandbox"]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); errors while polling
    (a server that is down) count as "not yet"."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # noqa: BLE001 - the database may be down while we poll
            value, last_error = None, exc
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}"
                       + (f" (last error: {last_error})" if last_error else ""))


def record_recovery(scenario: str, fault: str, seconds: float, **extra: Any) -> None:
    """Append the measured recovery (fault's end -> caught up) to ``bench/results/faults.jsonl``."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    line = {"scenario": scenario, "fault": fault, "recovery_seconds": round(seconds, 2),
            "load": round(os.getloadavg()[0], 2), "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **extra}
    with RESULTS.open("a") as out:
        out.write(json.dumps(line) + "\n")
    print(f"recovery: {json.dumps(line)}")


def new_database(admin_url: str) -> str:
    from sqlalchemy import create_engine

    name = f"faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


# -- what the scenarios count ----------------------------------------------------------------------------
def run_of(services: Any, run_id: int) -> Any:
    from connectors.models import JobRun

    with services.factory() as s:
        return s.get(JobRun, run_id)


def registrations_of(services: Any, event_id: int) -> tuple[int, int]:
    """(registrations, distinct profiles among them) of an event: equal when none is twice."""
    from connectors.models import Registration

    with services.factory() as s:
        return tuple(s.execute(select(func.count(), func.count(func.distinct(Registration.profile_id)))
                               .where(Registration.event_id == event_id)).one())


def count_rows(services: Any, model: Any) -> int:
    with services.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def dead_letters(services: Any) -> list[tuple[str, str]]:
    """(queue, reason) of every dead letter the relay's collector recorded."""
    from connectors.models import DeadLetter

    with services.factory() as s:
        return [tuple(row) for row in s.execute(select(DeadLetter.queue, DeadLetter.reason)).all()]


def dead_queue_depth(broker_url: str, namespace: str) -> int:
    from connectors.bus import Topology, connect

    conn = connect(broker_url)
    try:
        return Topology.for_url(broker_url, namespace).dead_queue(conn.default_channel) \
            .queue_declare(passive=True).message_count
    finally:
        conn.release()


def validation_state(services: Any, job_id: int) -> str | None:
    from connectors.models import Job

    with services.factory() as s:
        return s.get(Job, job_id).validation_state


# -- status changes -------------------------------------------------------------------------------------
class StatusWriter:
    """Changes registration statuses New -> Attended, ``batch`` a transaction, every ``pause``
    seconds, in a thread: the stream a fault lands in. A commit that fails (the database is down)
    is retried until it goes, so every change is eventually written exactly once."""

    def __init__(self, services: Any, event_id: int, reg_ids: list[int], batch: int = 10, pause: float = 0.05):
        self.services, self.event_id, self.batch, self.pause = services, event_id, batch, pause
        self.pending = list(reg_ids)
        self.written = 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-writer", daemon=True)

    def start(self) -> "StatusWriter":
        self._thread.start()
        return self

    def write_all_now(self) -> None:
        self._run()

    def join(self, timeout: float = 120) -> None:
        self._thread.join(timeout)
        assert self.done.is_set(), f"the status writer stopped with {len(self.pending)} changes unwritten"

    def _run(self) -> None:
        from connectors.db import transaction
        from connectors.models import Event
        from connectors.status_changes import RegistrationChange, change_registration_statuses

        actor = {"type": "system", "id": "faults"}
        while self.pending:
            chunk = self.pending[:self.batch]
            try:
                with transaction(self.services.factory) as s:
                    event = s.get(Event, self.event_id)
                    list(change_registration_statuses(s, account_code="BENCH", event=event, changes=[
                        RegistrationChange(reg_id, "Attended", actor) for reg_id in chunk]))
            except Exception:  # noqa: BLE001 - the database is down: the same chunk again
                time.sleep(0.5)
                continue
            del self.pending[:len(chunk)]
            self.written += len(chunk)
            time.sleep(self.pause)
        self.done.set()


def delivery_states(services: Any) -> dict[str, int]:
    """How many rows of the delivery ledger are in each state (all ``sent`` once caught up)."""
    from connectors.models import Delivery

    with services.factory() as s:
        return dict(s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())



# -- any application's sandbox, in a process of its own ----------------------------------------------------
class ForkedSandbox(ForkedServer):
    """``start()`` (a plugin's ``start_sandbox`` with its knobs) run in a forked child, then
    ``prepare(sandbox)`` there (its data; what it returns is ``prepared``). ``ask(function, *args)``
    runs ``function(sandbox, *args)`` in the child (a module-level function: it is pickled by
    name) and returns its answer: how a scenario reads what the application really holds.
    Forked before the scenario opens any database connection or starts a thread."""

    def __init__(self, start: Callable[[], Any], prepare: Callable[[Any], Any] = lambda sandbox: None):
        super().__init__(_serve_forked_sandbox, {"start": start, "prepare": prepare})

    @property
    def connection(self) -> dict[str, Any]:
        return self.ready[0]

    @property
    def prepared(self) -> Any:
        return self.ready[1]

    def ask(self, function: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        return super().ask((function, args))


def _serve_forked_sandbox(pipe: Any, options: dict[str, Any]) -> None:
    sandbox = options["start"]()
    pipe.send((sandbox.connection, options["prepare"](sandbox)))
    while (request := pipe.recv()) != "stop":
        function, args = request
        pipe.send(function(sandbox, *args))
    sandbox.stop()
