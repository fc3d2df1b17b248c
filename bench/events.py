#!/usr/bin/env python
"""Status-change events to Eloqua activities, and the Eloqua contact import: how fast, how much memory.

    .venv/bin/python bench/events.py                  # both scenarios at the issue's sizes (about 45 min on busy cores)
    .venv/bin/python bench/events.py --quick          # low rate, small sizes, RabbitMQ + PostgreSQL only (well under a minute)
    .venv/bin/python bench/events.py --scenario events --rate 200 --seconds 60

Scenarios (docs/performance.md explains the figures):

* ``events``: a writer process changes registration statuses through the shared writer
  (``change_registration_statuses``: the changes, their events and their outbox rows in one
  transaction; ``--batches`` sets how many a transaction) at a steady rate; ``connectors relay``, ``connectors dispatcher`` and ``connectors worker`` run as separate
  processes on RabbitMQ, as in production, and the enabled job "Create Eloqua Activity upon Reg
  Status Change" (accepted by the worker first) turns each change into one activity in the Eloqua
  sandbox, which runs in a process of its own with a small per-call latency. Measured: the time
  from the writer's commit to the sandbox creating the activity (one clock: ``time.time()`` on this
  machine), p50 / p95 / p99 / max, and the events lost (no activity after the drain) or duplicated
  (more than one). On PostgreSQL and on SQLite; baseline: the same on the embedded ``memory://``
  bus (relay, dispatcher and worker as threads of the writer's process: the in-memory transport
  does not cross processes).
* ``import``: Import Eloqua Contacts as Registrations of one contact list (Bulk export) at two
  sizes: wall time, contacts per second, ``ru_maxrss`` growth, and tracemalloc's peak in a second run.

Each case runs in a fresh interpreter (``common.run_child``); the sandbox is forked from it first.
Figures are printed as tables and written as JSON (default ``bench/results/events-<timestamp>.json``).
Exit status 1 when a case failed, lost or duplicated an event.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, select  # noqa: E402

from common import (  # noqa: E402
    DEFAULT_POSTGRES, MemoryProbe, machine, postgres_reachable, run_child, table, write_json,
)
from events_setup import (  # noqa: E402
    LIST_NAME, Processes, SandboxProcess, ServerCpu, database, delete_topology, process_cpu_seconds, seed,
    status_consumers, submit_job, wait_until,
)

HERE = Path(__file__).resolve().parent
IMPORT_JOB = "eloqua.import_contacts_as_registrations"
ACTIVITY_PATH = "/api/REST/2.0/data/activity"
RABBITMQ = os.environ.get("CONNECTORS_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
GOAL_P99 = 1.0
WRITER_THREADS = 4
CPU_COLUMNS = ("writer", "relay", "dispatcher", "worker", "sandbox", "postgresql", "rabbitmq")

FULL = {"rate": 200, "seconds": 60, "batches": [1], "drain": 300, "idle": 30, "latency": 0.02, "import_sizes": [10_000, 100_000],
        "databases": ["postgresql", "sqlite"], "baseline": True}
QUICK = {"rate": 10, "seconds": 2, "batches": [1], "drain": 30, "idle": 5, "latency": 0.02, "import_sizes": [300],
         "databases": ["postgresql"], "baseline": False}  # the smoke test's run: well under a minute


# -- case: status changes -> activities -----------------------------------------------------------------
def events_case(case: dict[str, Any]) -> dict[str, Any]:
    n = int(case["rate"] * case["seconds"])
    with SandboxProcess(n, case["latency"]) as sandbox, ExitStack() as stack:
        from connectors.config import Settings
        from connectors.migrations import upgrade
        from connectors.services import Services

        url = stack.enter_context(database(case["database"], case["postgres"]))
        upgrade(url)
        broker = RABBITMQ if case["bus"] == "amqp" else "memory://"
        namespace = f"bench{uuid.uuid4().hex[:8]}"
        secret = uuid.uuid4().hex
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-events-instance-"))
        settings = Settings(database_url=url, broker_url=broker, bus_namespace=namespace, secret_key=secret,
                            instance_dir=Path(folder))
        services = Services.from_settings(settings)
        stack.callback(services.close)
        event_id, reg_ids = seed(services, sandbox.connection, sandbox.contact_ids)
        contact_of = dict(zip(reg_ids, sandbox.contact_ids))
        job_id = submit_job(services, event_id)
        load_before = os.getloadavg()[0]
        if case["bus"] == "amqp":
            env = {**os.environ, "CONNECTORS_DATABASE_URL": url, "CONNECTORS_BROKER_URL": broker,
                   "CONNECTORS_BUS_NAMESPACE": namespace, "CONNECTORS_SECRET_KEY": secret,
                   "CONNECTORS_INSTANCE_DIR": folder}
            stack.callback(delete_topology, broker, namespace)  # after the processes stopped
            procs = stack.enter_context(Processes(env, Path(folder) / "processes.log"))
        else:
            from connectors.bus import Embedded
            procs = None
            stack.enter_context(Embedded(services, interval=0.05))
        wait_until(lambda: _validation_state(services, job_id) == "valid", 120, "the worker to accept the job")
        if procs is not None:  # the dispatcher consumes (a slow start must not count as latency)
            wait_until(lambda: status_consumers(broker, namespace) > 0, 120, "the dispatcher to consume")
        servers = ServerCpu(services, broker)
        cpu_before = {**(procs.cpu_seconds() if procs is not None else {}),  # their start-up is not the events'
                      "writer": _own_cpu(), "sandbox": process_cpu_seconds(sandbox.pid), **servers.sample()}
        writes, write_seconds = write_changes(services, event_id, reg_ids, case["rate"], case["seconds"],
                                              batch=case.get("batch", 1))
        drain_started = time.time()
        _wait_for_activities(sandbox, len(writes), case["drain"], case["idle"])
        time.sleep(1.0)  # room for a wrong second activity to show
        cpu_after = {**(procs.cpu_seconds() if procs is not None else {}), "writer": _own_cpu(),
                     "sandbox": process_cpu_seconds(sandbox.pid), **servers.sample()}
        cpu = {name: round(cpu_after[name] - cpu_before[name], 1) if cpu_after[name] is not None
               and cpu_before.get(name) is not None else None for name in cpu_after}
        problems = procs.problems() if procs is not None else []
        drained_after = round(time.time() - drain_started, 1)
        created = sandbox.ask("activities")
        stored = sandbox.ask("stored")
        calls = sandbox.ask("calls")
        states = _delivery_states(services)
        stages = {name: percentiles(values) for name, values in stage_times(services, writes).items()}
    result = summarise(case, n, writes, write_seconds, created, stored, contact_of, states, calls, cpu,
                       drained_after, [load_before, os.getloadavg()[0]])
    return {**result, "stages": stages, "process_problems": problems}


def _wait_for_activities(sandbox: SandboxProcess, n: int, drain: float, idle: float) -> bool:
    """Wait for ``n`` activities while they keep coming: at most ``drain`` seconds, and no longer
    than ``idle`` seconds without a new one. False when they did not all come."""
    deadline, count, last_change = time.monotonic() + drain, -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < idle:
        now_count = sandbox.ask("count")
        if now_count >= n:
            return True
        if now_count != count:
            count, last_change = now_count, time.monotonic()
        time.sleep(0.25)
    return False


def _own_cpu() -> float:
    """This process's CPU seconds: during the run, the writer's (with the memory:// baseline,
    relay, dispatcher and worker too)."""
    times = os.times()
    return times.user + times.system


def _validation_state(services: Any, job_id: int) -> str | None:
    from connectors.models import Job

    with services.factory() as s:
        return s.get(Job, job_id).validation_state


def _delivery_states(services: Any) -> dict[str, int]:
    from connectors.models import Delivery

    with services.factory() as s:
        return dict(s.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all())


def write_changes(services: Any, event_id: int, reg_ids: list[int], rate: float, seconds: float,
                  threads: int = WRITER_THREADS, batch: int = 1) -> tuple[list[tuple], float]:
    """Each registration New -> Attended through the shared writer (``change_registration_statuses``,
    which ``change_status`` and the ingestion endpoint use), ``batch`` changes a transaction (1:
    each change its own; the transaction reads its event first, as the ingestion endpoint does),
    the i-th change due at ``i / rate``: a transaction is written when its last change is due (a
    late one goes at once, the ones after keep their slots: never a burst to catch up). ``threads``
    writers share the transactions, so one slow commit does not delay the next. Stops at
    ``seconds``: changes not due by then are not written. Returns (reg id, event id, commit time)
    per change, and the seconds it took."""
    from connectors.db import transaction
    from connectors.models import Event
    from connectors.status_changes import RegistrationChange, change_registration_statuses

    actor = {"type": "system", "id": "bench"}
    writes: list[tuple] = []
    chunks = [reg_ids[i:i + batch] for i in range(0, len(reg_ids), batch)]
    lock, slots = threading.Lock(), iter(enumerate(chunks))
    started = time.time()
    deadline = started + seconds

    def writer() -> None:
        while True:
            with lock:
                k, chunk = next(slots, (None, None))
            due = started + ((k * batch + len(chunk) - 1) / rate if k is not None else 0)
            if k is None or due >= deadline or time.time() >= deadline:
                return
            if due > time.time():
                time.sleep(due - time.time())
            with transaction(services.factory) as s:
                outcomes = list(zip(chunk, change_registration_statuses(
                    s, account_code="BENCH", event=s.get(Event, event_id),
                    changes=[RegistrationChange(reg_id, "Attended", actor) for reg_id in chunk])))
            committed = time.time()
            with lock:
                writes.extend((reg_id, outcome.event_id, committed) for reg_id, outcome in outcomes)

    pool = [threading.Thread(target=writer, name=f"writer-{k}") for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return writes, max((w[2] for w in writes), default=started) - started


def stage_times(services: Any, writes: list[tuple]) -> dict[str, list[float]]:
    """Where each event's time went: commit -> the relay marked it published (``relay``) ->
    the dispatcher planned its delivery (``bus + planning``); the rest is the send."""
    from connectors.models import Delivery, Outbox

    committed = {event_id: at for _, event_id, at in writes}
    with services.factory() as s:
        sent = dict(s.execute(select(Outbox.message_id, Outbox.sent_at).where(Outbox.exchange == "events")).all())
        planned = dict(s.execute(select(Delivery.event_id, Delivery.created_at)).all())
    out: dict[str, list[float]] = {"relay": [], "bus + planning": []}
    for event_id, at in committed.items():
        if sent.get(event_id) is not None:
            out["relay"].append(_epoch(sent[event_id]) - at)
            if planned.get(event_id) is not None:
                out["bus + planning"].append(_epoch(planned[event_id]) - _epoch(sent[event_id]))
    return out


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def summarise(case, n, writes, write_seconds, created, stored, contact_of, states, calls, cpu, drained_after,
              load) -> dict[str, Any]:
    first_at: dict[int, float] = {}
    for at, contact_id, _ in created:
        first_at[contact_id] = min(at, first_at.get(contact_id, at))
    per_contact: dict[int, int] = {}
    for contact_id in stored:
        per_contact[contact_id] = per_contact.get(contact_id, 0) + 1
    latencies, lost = [], 0
    for reg_id, _, committed in writes:
        at = first_at.get(contact_of[reg_id])
        if at is None:
            lost += 1
        else:
            latencies.append(at - committed)
    duplicated = sum(1 for count in per_contact.values() if count > 1)
    return {"database": case["database"], "bus": case["bus"], "batch": case.get("batch", 1), "events": len(writes), "scheduled": n,
            "rate": case["rate"],
            "achieved_rate": round(len(writes) / write_seconds, 1) if write_seconds else None,
            "write_seconds": round(write_seconds, 1), "sandbox_latency": case["latency"],
            "activities": len(stored), "lost": lost, "duplicated": duplicated, "latency": percentiles(latencies),
            "goal_met": bool(latencies) and lost == 0 and duplicated == 0 and percentiles(latencies)["p99"] < GOAL_P99,
            "deliveries": states, "drained_after_seconds": drained_after, "cpu_seconds": cpu,
            "cpu_ms_per_event": {name: round(1000 * s / len(writes), 2) for name, s in cpu.items()
                                 if s is not None and writes},
            "sandbox_calls": calls, "load_average": load}


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    return {"p50": round(pick(0.50), 3), "p95": round(pick(0.95), 3), "p99": round(pick(0.99), 3),
            "max": round(ordered[-1], 3), "mean": round(statistics.fmean(ordered), 3)}


# -- case: bulk contact import ------------------------------------------------------------------------------
def import_case(case: dict[str, Any]) -> dict[str, Any]:
    n = case["contacts"]
    with SandboxProcess(n, 0.0) as sandbox, database("postgresql", case["postgres"]) as url:
        from connectors.models import Registration
        from connectors.testing import Harness

        with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
            harness = Harness(folder, database_url=url)
            harness.configure("eloqua", sandbox.connection)
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            with MemoryProbe(trace=case["trace"]) as memory:
                result = harness.run(IMPORT_JOB, {"contact_list_name": LIST_NAME})
            wall = time.perf_counter() - started
            with harness.factory() as s:
                imported = s.scalar(select(func.count()).select_from(Registration))
            harness.close()
    return {"contacts": n, "traced": case["trace"], "status": result.status, "error": result.error,
            "counters": result.counters, "imported": imported, "wall_seconds": round(wall, 2),
            "contacts_per_second": round(n / wall, 1), "rss_before_mb": round(memory.rss_before_mb, 1),
            "rss_delta_mb": memory.rss_delta_mb, "traced_peak_mb": memory.traced_peak_mb,
            "load_average": [load_before, os.getloadavg()[0]]}


# -- driver --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="low rate, small sizes")
    parser.add_argument("--scenario", choices=["events", "import", "all"], default="all")
    parser.add_argument("--rate", type=float, help="status changes per second")
    parser.add_argument("--seconds", type=float, help="how long the writer writes")
    parser.add_argument("--drain", type=float, help="at most this many seconds to wait for the last activities")
    parser.add_argument("--idle", type=float, help="stop waiting after this many seconds without a new activity")
    parser.add_argument("--latency", type=float, help="the sandbox's seconds per call")
    parser.add_argument("--databases", help="postgresql,sqlite")
    parser.add_argument("--batches", help="status changes a writer transaction, e.g. 1,10 (default 1: each its own)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the memory:// run")
    parser.add_argument("--import-sizes", help="contacts per import, e.g. 10000,100000")
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs of the import")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="admin URL of the PostgreSQL server")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--case-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        case = json.loads(args.case)
        result = events_case(case) if case["kind"] == "events" else import_case(case)
        args.case_out.write_text(json.dumps(result, default=str))
        return 0

    p = dict(QUICK if args.quick else FULL)
    for key in ("rate", "seconds", "drain", "idle", "latency"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    if args.databases:
        p["databases"] = args.databases.split(",")
    if args.batches:
        p["batches"] = [int(x) for x in args.batches.split(",")]
    if args.import_sizes:
        p["import_sizes"] = [int(x) for x in args.import_sizes.split(",")]
    p["baseline"] = p["baseline"] and not args.no_baseline
    p["quick"], p["trace"] = args.quick, not args.no_trace
    if not postgres_reachable(args.postgres):
        print(f"PostgreSQL is not reachable at {args.postgres}", file=sys.stderr)
        return 2
    data: dict[str, Any] = {"machine": machine(args.postgres), "parameters": p, "failures": [],
                            "load_average_start": os.getloadavg(), "scenarios": {}}
    if args.scenario in ("events", "all"):
        data["scenarios"]["events"] = run_events(p, args.postgres, data["failures"])
    if args.scenario in ("import", "all"):
        data["scenarios"]["import"] = run_imports(p, args.postgres, data["failures"])
    out = args.output or HERE / "results" / f"events-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    write_json(out, data)
    print(f"\nfigures written to {out}")
    return 1 if data["failures"] else 0


def _case(case: dict[str, Any], failures: list[str]) -> dict[str, Any] | None:
    try:
        return run_child(Path(__file__), case, timeout=3600)
    except Exception as exc:  # noqa: BLE001 - a failed case is reported, the others still run
        failures.append(f"{case}: {exc}")
        print(f"case failed: {case}: {exc}", file=sys.stderr)
        return None


def run_events(p: dict[str, Any], postgres: str, failures: list[str]) -> list[dict[str, Any]]:
    cases = [("amqp", db, b) for b in p["batches"] for db in p["databases"]]
    cases += [("memory", "postgresql", b) for b in p["batches"]] if p["baseline"] else []
    runs = []
    for bus, db, batch in cases:
        print(f"events: {p['rate']:g}/s for {p['seconds']:g}s, {db}, {bus}, {batch} a transaction ...", file=sys.stderr,
              flush=True)
        result = _case({"kind": "events", "bus": bus, "database": db, "rate": p["rate"], "seconds": p["seconds"],
                        "drain": p["drain"], "idle": p["idle"], "latency": p["latency"], "postgres": postgres,
                        "batch": batch}, failures)
        if result is None:
            continue
        if result["lost"] or result["duplicated"]:
            failures.append(f"events {db}/{bus}/{batch}: lost {result['lost']}, duplicated {result['duplicated']}")
        runs.append(result)
    print("\nStatus change -> Eloqua activity (seconds from the writer's commit to the sandbox's create)\n")
    print(table(["database", "bus", "changes a transaction", "events", "rate (achieved)", "p50", "p95", "p99", "max", "lost", "duplicated",
                 "p99 < 1 s", "relay p50/p99", "bus+plan p50/p99", "CPU ms per event (" + "/".join(CPU_COLUMNS) + ")", "load"],
                [[r["database"], r["bus"], r["batch"], r["events"], f"{r['rate']:g} ({r['achieved_rate']})", r["latency"]["p50"],
                  r["latency"]["p95"], r["latency"]["p99"], r["latency"]["max"], r["lost"], r["duplicated"],
                  r["goal_met"], _pair(r["stages"]["relay"]), _pair(r["stages"]["bus + planning"]), "/".join(str(r["cpu_ms_per_event"].get(k, "–")) for k in CPU_COLUMNS),
                  f"{r['load_average'][0]:.1f}→{r['load_average'][1]:.1f}"] for r in runs]))
    return runs


def _pair(figures: dict[str, float | None]) -> str:
    return f"{figures['p50']}/{figures['p99']}"


def run_imports(p: dict[str, Any], postgres: str, failures: list[str]) -> list[dict[str, Any]]:
    runs = []
    for trace in ([False, True] if p["trace"] else [False]):
        for n in p["import_sizes"]:
            print(f"import: {n:,} contacts{' (tracemalloc)' if trace else ''} ...", file=sys.stderr, flush=True)
            result = _case({"kind": "import", "contacts": n, "trace": trace, "postgres": postgres}, failures)
            if result is None:
                continue
            if result["status"] != "succeeded" or result["imported"] != n:
                failures.append(f"import {n}: {result['status']}, {result['imported']} imported: {result['error']}")
            runs.append(result)
    print("\nImport Eloqua Contacts as Registrations (one contact list, Bulk export, PostgreSQL)\n")
    print(table(["contacts", "tracemalloc", "status", "imported", "wall s", "contacts/s", "RSS growth MB",
                 "traced peak MB", "load"],
                [[r["contacts"], r["traced"], r["status"], r["imported"], r["wall_seconds"], r["contacts_per_second"],
                  r["rss_delta_mb"], r["traced_peak_mb"], f"{r['load_average'][0]:.1f}→{r['load_average'][1]:.1f}"]
                 for r in runs]))
    return runs


if __name__ == "__main__":
    sys.exit(main())
