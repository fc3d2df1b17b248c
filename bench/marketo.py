#!/usr/bin/env python
"""Marketo benchmarks: how fast the plugin's big jobs go, and what holds them back.

    .venv/bin/python bench/marketo.py                      # every scenario at the issue's sizes
    .venv/bin/python bench/marketo.py --quick              # small sizes, under a minute
    .venv/bin/python bench/marketo.py --scenario sync --sync-n 20000

Scenarios (each beside its baseline; docs/performance.md explains the figures):

* ``sync``: Create or Update Leads for N registrations against a sandbox that enforces a sliding
  rate window of 100 calls (Marketo's, per instance), the client set to Adobe's advice (50 per
  window); once with the window scaled to 4 s (20 s x 1/5), once with the real 20 s. Baseline: the
  same N with no rate limit anywhere (pure processing time).
* ``import``: Import Marketo Leads as Registrations, bulk mode, N synthetic leads of a static
  list; wall time, leads per second, peak memory. Baseline: REST paging mode.
* ``databases``: the same bulk import into SQLite and into PostgreSQL.

Every measured case runs in a fresh interpreter (so memory figures never mix), and the sandbox in a
child process of that one (Marketo is another machine: its work must not share the job's GIL, nor
show in the job's memory). Figures are printed as tables and written as JSON (default
``bench/results/marketo-<timestamp>.json``). Exit status 1 when a run failed or Marketo answered 606.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

import connectors_marketo.plugin as marketo_plugin  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_POSTGRES, MemoryProbe, Split, machine, postgres_database, postgres_reachable, rss_now_mb, run_child, table,
    time_sql, write_json,
)
from connectors.db import transaction  # noqa: E402
from connectors.jobs import runs  # noqa: E402
from connectors.jobs.context import JobContext  # noqa: E402
from connectors.models import (  # noqa: E402
    Account, AttendeeType, Event, JobRun, Profile, Registration, RegistrationStatus, utcnow,
)
from connectors.testing import ACCOUNT_CODE, EVENT_CODE, Harness  # noqa: E402
from connectors_marketo import bulk as bulk_client  # noqa: E402
from connectors_marketo.jobs import create_update_leads, import_registrations  # noqa: E402
from connectors_marketo.jobs.common import RUN_CLIENT_OPTIONS  # noqa: E402
from connectors_marketo.ratelimit import RateLimiter  # noqa: E402
from connectors_marketo.sandbox import MarketoSandbox  # noqa: E402

HERE = Path(__file__).resolve().parent
LIST_NAME = "Benchmark list"
SYNC_BATCH = 300                   # Sync Leads' input limit: the fewest calls are ceil(N / 300)
SYNC_ENDPOINT = "POST /rest/v1/leads.json"
MARKETO_WINDOW = (100, 20.0)       # calls per seconds, per instance (spec §1.6)
ADOBE_ADVICE = 50                  # calls per window for one integration
GOAL_RATIO = 1.10                  # rate-limited wall time within 10% of the limit's bound
TIMELINE_POINTS = 40

FULL = {"sync_n": 100_000, "bulk_sizes": [10_000, 100_000, 1_000_000], "rest_sizes": [10_000, 100_000],
        "db_n": 100_000, "windows": [4.0, 20.0], "sandbox_limit": 100, "client_limit": 50}
QUICK = {"sync_n": 1_500, "bulk_sizes": [1_000, 5_000], "rest_sizes": [1_000],
         "db_n": 2_000, "windows": [1.0], "sandbox_limit": 4, "client_limit": 2}


# -- results ------------------------------------------------------------------------------------------
@dataclass
class Calls:
    """What the sandbox's journal saw."""

    by_endpoint: dict[str, int]
    codes: dict[str, int]
    rest: int                      # REST calls: each one counts in Marketo's rate window
    errors_606: int
    spans: dict[str, list[float]]  # per endpoint, epoch seconds of its first and last call


@dataclass
class SyncResult:
    """One Create or Update Leads run (scenario ``sync``)."""

    label: str
    registrations: int
    status: str
    counters: dict[str, int]
    wall_seconds: float
    seed_seconds: float
    calls: Calls
    sync_calls: int
    min_sync_calls: int
    limits: dict[str, Any] | None      # sandbox and client (calls, window seconds), scale; None: no limit
    bound_seconds: float | None        # floor((C - 1) / L) * W: the fastest the client's limit allows
    ratio: float | None                # wall / bound
    goal_met: bool | None
    first_sync_after: float            # seconds from the start of the run to its first Sync Leads call
    send_seconds: float                # from the first Sync Leads call to the last
    send_bound_seconds: float | None   # floor((S - 1) / L) * W for the S Sync Leads calls alone
    split: dict[str, float]
    timeline: list[tuple[float, int, float]]
    load_average: list[float] | None = None   # the machine's 1-minute load before and after the case
    error: str | None = None


@dataclass
class ImportResult:
    """One Import Marketo Leads as Registrations run (scenarios ``import`` and ``databases``)."""

    mode: str
    database: str
    leads: int
    imported: int                      # registrations in the database afterwards
    status: str
    counters: dict[str, int]
    wall_seconds: float
    leads_per_second: float
    steady_leads_per_second: float | None   # between the first and the last commit (no export wait)
    rss_before_mb: float
    rss_delta_mb: float
    traced_peak_mb: float | None
    calls: Calls
    real_limit_floor_seconds: float    # what Adobe's 50 calls / 20 s would add at least, for these calls
    capped_after_seconds: float | None  # the run was stopped there (too long): figures are for what got in
    split: dict[str, float]
    timeline: list[tuple[float, int, float]]
    traced_wall_seconds: float | None = None  # the same run under tracemalloc (its cost shows here)
    traced_leads: int | None = None           # leads that traced run got through (fewer when it was capped)
    load_average: list[float] | None = None
    error: str | None = None


# -- the sandbox, in a process of its own ---------------------------------------------------------------
class SandboxProcess:
    """A ``MarketoSandbox`` served from a forked child. ``leads``: that many real leads in the
    static list (REST paging reads them); ``synthetic``: that many made-up leads in it, seen by
    bulk exports only (a million cost no memory)."""

    def __init__(self, rate_limit: tuple[int, float] | None, leads: int = 0, synthetic: int = 0):
        self.options = {"rate_limit": rate_limit, "leads": leads, "synthetic": synthetic}
        self.connection: dict[str, Any] = {}

    def __enter__(self) -> "SandboxProcess":
        context = multiprocessing.get_context("fork")  # before the case starts any thread
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve_sandbox, args=(child_end, self.options), daemon=True)
        self._process.start()
        self.connection = self._pipe.recv()
        return self

    def calls(self) -> Calls:
        self._pipe.send("calls")
        return Calls(**self._pipe.recv())

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()


def _serve_sandbox(pipe: Any, options: dict[str, Any]) -> None:
    sandbox = MarketoSandbox(rate_limit=options["rate_limit"], daily_quota=None)
    _index_emails(sandbox.store)
    if options["leads"]:
        ids = [lead["id"] for lead in sandbox.add_leads(_lead(i) for i in range(options["leads"]))]
        sandbox.add_list(LIST_NAME, ids)
    if options["synthetic"]:
        sandbox.bulk.add_synthetic_leads(options["synthetic"], list_name=LIST_NAME)
    sandbox.start()
    pipe.send(sandbox.connection)
    while pipe.recv() != "stop":
        pipe.send(_journal_figures(sandbox))
    sandbox.stop()
    sandbox.bulk.close()


def _lead(i: int) -> dict[str, Any]:
    """A real lead shaped like the sandbox's synthetic ones."""
    return {"email": f"lead{i}@example.com", "firstName": f"First{i % 97}", "lastName": f"Last{i % 89}",
            "company": f"Company {i % 41}", "title": "Engineer" if i % 10 else None, "city": "Lyon",
            "state": "ARA", "country": "France"}


def _index_emails(store: Any) -> None:
    """The sandbox's lead store finds a lead by email by scanning every lead (~6 ms at 50,000
    leads), once per Sync Leads record: ten minutes of sandbox time for 100,000 registrations,
    which real Marketo does not spend. Benchmark only: an email index in front of it. (Emails
    that change afterwards are not re-indexed; this benchmark never changes one.)"""
    index: dict[str, list[int]] = {}
    add_lead, find_leads = store.add_lead, store.find_leads

    def indexed_add(values: dict[str, Any]) -> dict[str, Any]:
        lead = add_lead(values)
        if lead.get("email"):
            index.setdefault(str(lead["email"]).lower(), []).append(lead["id"])
        return lead

    def indexed_find(field_name: str, values: Any) -> list[dict[str, Any]]:
        if field_name != "email":
            return find_leads(field_name, values)
        wanted = {str(v).lower() for v in values}
        ids = sorted({i for email in wanted for i in index.get(email, ())})
        return [store.leads[i] for i in ids if str(store.leads[i].get("email", "")).lower() in wanted]

    store.add_lead, store.find_leads = indexed_add, indexed_find


def _journal_figures(sandbox: MarketoSandbox) -> dict[str, Any]:
    by_endpoint: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    spans: dict[str, list[float]] = {}
    for entry in sandbox.journal.entries():
        name = f"{entry.method} {_endpoint(entry.path)}"
        by_endpoint[name] += 1
        codes.update(entry.codes)
        spans.setdefault(name, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
    rest = sum(n for name, n in by_endpoint.items() if " /rest/" in name or " /bulk/" in name)
    file_calls = sum(n for name, n in by_endpoint.items() if name.endswith("/file.json"))
    return {"by_endpoint": dict(sorted(by_endpoint.items())), "codes": dict(codes), "rest": rest - file_calls,
            "errors_606": codes.get("606", 0), "spans": spans}


def _endpoint(path: str) -> str:
    path = re.sub(r"/export/[0-9a-f-]{36}/", "/export/{id}/", path)
    return re.sub(r"/\d+(?=[/.])", "/{id}", path)


# -- seeding ------------------------------------------------------------------------------------------
def seed_registrations(harness: Harness, n: int, chunk: int = 5000) -> None:
    """``n`` profiles each registered for the test event, by multi-row Core INSERTs (the store's
    ORM path, or ``seed_programme``, would take minutes for 100,000)."""
    with transaction(harness.factory) as s:
        account_id = s.scalar(select(Account.id).where(Account.account_code == ACCOUNT_CODE))
        event_id = s.scalar(select(Event.id).where(Event.event_code == EVENT_CODE))
        statuses = list(s.scalars(select(RegistrationStatus.label).where(RegistrationStatus.event_id == event_id)))[:3]
        types = list(s.scalars(select(AttendeeType.code).where(AttendeeType.event_id == event_id)))
        now = utcnow()
        for start in range(0, n, chunk):
            numbers = range(start, min(n, start + chunk))
            profiles = [{"account_id": account_id, "pin": f"PB{i:08d}", "email": f"bench.{i}@example.com",
                         "first_name": f"First{i % 97}", "last_name": f"Last{i % 89}", "organization": f"Company {i % 41}",
                         "city": "Lyon", "country": "France", "custom": {}, "external_ids": {},
                         "date_created": now, "date_modified": now} for i in numbers]
            ids = s.execute(insert(Profile.__table__).returning(Profile.__table__.c.id, sort_by_parameter_order=True),
                            profiles).scalars().all()
            s.execute(insert(Registration.__table__), [
                {"event_id": event_id, "profile_id": pid, "registration_code": f"RB{i:08d}",
                 "attendee_type_code": types[i % len(types)], "status_label": statuses[i % len(statuses)],
                 "is_active": True, "source": "bench", "external_ids": {}, "version": 1,
                 "date_created": now, "date_modified": now} for i, pid in zip(numbers, ids)])


# -- one measured run -------------------------------------------------------------------------------------
@dataclass
class Measured:
    status: str
    counters: dict[str, int]
    wall: float
    split: dict[str, float]
    timeline: list[tuple[float, int, float]]
    memory: MemoryProbe
    capped_after: float | None
    error: str | None


def measure_run(harness: Harness, key: str, params: dict[str, Any], *, trace: bool = False,
                cap: float | None = None) -> Measured:
    """Run one job to its end, timing where the time goes; ``cap``: ask the run to stop (the
    platform's cancel) after that many seconds."""
    run_id = harness.submit(key, params)
    split, timeline = Split(), []
    split.wrap(RateLimiter, "acquire", "limiter wait")
    split.wrap(requests.Session, "send", "http")
    split.wrap(bulk_client.BulkExporter, "wait", "export wait")
    split.wrap(bulk_client._Download, "run", "download")
    time_sql(split, harness.engine)
    started = time.perf_counter()
    commit = JobContext.commit

    def commit_and_note(ctx: JobContext, **final: Any) -> None:
        commit(ctx, **final)
        timeline.append((round(time.perf_counter() - started, 2), sum(ctx.counters.values()), rss_now_mb()))

    JobContext.commit = commit_and_note
    stopper = threading.Timer(cap, _cancel, (harness, run_id)) if cap else None
    try:
        with MemoryProbe(trace) as memory:
            if stopper:
                stopper.start()
            started = time.perf_counter()
            result = harness.execute(run_id, lease_seconds=60)
            wall = time.perf_counter() - started
    finally:
        JobContext.commit = commit
        split.restore()
        if stopper:
            stopper.cancel()
    capped = cap if cap and result.status == "cancelled" else None  # only the cap cancels a benchmark run
    if result.error:
        print(f"  run {result.status}: {result.error}", file=sys.stderr)
    return Measured(result.status, result.counters, round(wall, 2), split.figures(wall), timeline, memory, capped,
                    result.error[:300] if result.error else None)


def _cancel(harness: Harness, run_id: int) -> None:
    with transaction(harness.factory) as s:
        runs.request_cancel(s, s.get(JobRun, run_id))


def thin(timeline: list[tuple[float, int, float]], points: int = TIMELINE_POINTS) -> list[tuple[float, int, float]]:
    """About ``points`` of the timeline, evenly spread, the last one kept (one per record count)."""
    timeline = [p for i, p in enumerate(timeline) if i == 0 or p[1] != timeline[i - 1][1]]
    step = max(1, math.ceil(len(timeline) / points))
    kept = timeline[::step]
    return kept + timeline[-1:] if timeline and kept[-1] != timeline[-1] else kept


def steady_rate(timeline: list[tuple[float, int, float]]) -> float | None:
    """Records per second from the first commit with records to the last (leaves out the export's wait)."""
    points = [p for p in timeline if p[1] > 0]
    if len(points) < 3:
        return None
    (t0, n0, _), (t1, n1, _) = points[0], points[-1]
    return round((n1 - n0) / (t1 - t0), 1) if t1 > t0 else None


@contextmanager
def database(kind: str, postgres_admin: str) -> Iterator[str | None]:
    """None for a SQLite file in the harness's folder; a fresh PostgreSQL database's URL else."""
    if kind == "sqlite":
        yield None
        return
    with postgres_database(postgres_admin, prefix="bench_marketo") as url:
        yield url


# -- the cases (each runs in its own interpreter) ---------------------------------------------------------
def sync_case(case: dict[str, Any]) -> dict[str, Any]:
    n, limits = case["n"], case["limits"]
    with SandboxProcess(tuple(limits["sandbox"]) if limits else None) as sandbox, \
            tempfile.TemporaryDirectory(prefix="bench-marketo-") as tmp:
        harness = Harness(tmp, plugins={"marketo": marketo_plugin})
        connection = dict(sandbox.connection)
        if limits:  # the plugin configuration sets the client's limit, as a user would
            connection.update(calls_per_window=limits["client"][0], window_seconds=limits["client"][1])
        else:
            RUN_CLIENT_OPTIONS["calls_per_window"] = None
        harness.configure("marketo", connection)
        seeded = time.perf_counter()
        seed_registrations(harness, n)
        seed_seconds = round(time.perf_counter() - seeded, 2)
        began = time.time()
        run = measure_run(harness, create_update_leads.KEY, {})
        calls = sandbox.calls()
        harness.close()
    sync_calls = calls.by_endpoint.get(SYNC_ENDPOINT, 0)
    first, last = calls.spans.get(SYNC_ENDPOINT, [began, began])
    bound = ratio = goal = send_bound = None
    if limits:
        per_window, window = limits["client"]
        bound = math.floor((calls.rest - 1) / per_window) * window
        send_bound = math.floor((sync_calls - 1) / per_window) * window
        ratio = round(run.wall / bound, 3) if bound else None
        goal = ratio is not None and ratio <= GOAL_RATIO
    return asdict(SyncResult(case["label"], n, run.status, run.counters, run.wall, seed_seconds, calls, sync_calls,
                             math.ceil(n / SYNC_BATCH), limits, bound, ratio, goal, round(first - began, 2),
                             round(last - first, 2), send_bound, run.split, thin(run.timeline), error=run.error))


def import_case(case: dict[str, Any]) -> dict[str, Any]:
    n, mode = case["n"], case["mode"]
    content = {"synthetic": n} if mode == "bulk" else {"leads": n}
    RUN_CLIENT_OPTIONS["calls_per_window"] = None  # pure processing; the rate limit's floor is computed
    with SandboxProcess(None, **content) as sandbox, database(case["database"], case["postgres"]) as url, \
            tempfile.TemporaryDirectory(prefix="bench-marketo-") as tmp:
        harness = Harness(tmp, plugins={"marketo": marketo_plugin}, database_url=url)
        harness.configure("marketo", sandbox.connection)
        run = measure_run(harness, import_registrations.KEY, {"static_list_name": LIST_NAME, "mode": mode},
                          trace=case["trace"], cap=case.get("cap"))
        with harness.read_factory() as s:
            imported = s.scalar(select(func.count(Registration.id)))
        calls = sandbox.calls()
        harness.close()
    done = sum(run.counters.values())
    floor = math.floor(max(calls.rest - 1, 0) / ADOBE_ADVICE) * MARKETO_WINDOW[1]
    return asdict(ImportResult(mode, case["database"], n, imported, run.status, run.counters, run.wall,
                               round(done / run.wall, 1), steady_rate(run.timeline), round(run.memory.rss_before_mb, 1),
                               run.memory.rss_delta_mb, run.memory.traced_peak_mb, calls, floor, run.capped_after,
                               run.split, thin(run.timeline), error=run.error))


CASES = {"sync": sync_case, "import": import_case}


# -- the scenarios (in the parent: one child per case) ------------------------------------------------------
def run_case(kind: str, **case: Any) -> dict[str, Any]:
    what = ", ".join(f"{k}={v}" for k, v in case.items() if k not in ("postgres", "limits"))
    print(f"- {kind}: {what} ...", file=sys.stderr, flush=True)
    started, load = time.perf_counter(), os.getloadavg()[0]
    result = run_child(Path(__file__), {"kind": kind, **case})
    result["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    print(f"  done in {time.perf_counter() - started:,.0f} s", file=sys.stderr, flush=True)
    return result


def scenario_sync(args: argparse.Namespace) -> dict[str, Any]:
    """One rate-limited run per window (the scaled one, and Marketo's own 20 s unless --quick),
    then the baseline without any limit."""
    limited = []
    for window in args.windows:
        limits = {"sandbox": [args.sandbox_limit, window], "client": [args.client_limit, window],
                  "scale": f"x{window / MARKETO_WINDOW[1]:g} ({window:g} s window for Marketo's {MARKETO_WINDOW[1]:g} s)"}
        label = f"rate-limited, {window:g} s window"
        limited.append(SyncResult(**_calls(run_case("sync", label=label, n=args.sync_n, limits=limits))))
    baseline = SyncResult(**_calls(run_case("sync", label="no rate limit (baseline)", n=args.sync_n, limits=None)))
    return {"limited": limited, "baseline": baseline}


def scenario_import(args: argparse.Namespace) -> dict[str, Any]:
    """Each size twice: timed without tracemalloc (it slows allocation-heavy code), then again with
    it for the peak of Python allocations — unless ``--no-trace``."""
    results: dict[str, list[ImportResult]] = {"bulk": [], "rest": []}
    for mode, sizes in (("bulk", args.bulk_sizes), ("rest", args.rest_sizes)):
        for n in sizes:
            timed = _import(mode, n, "sqlite", args, trace=False)
            if args.trace and (args.trace_limit is None or n <= args.trace_limit):
                traced = _import(mode, n, "sqlite", args, trace=True)
                timed.traced_peak_mb, timed.traced_wall_seconds = traced.traced_peak_mb, traced.wall_seconds
                timed.traced_leads = sum(traced.counters.values())
            results[mode].append(timed)
    return results


def scenario_databases(args: argparse.Namespace) -> dict[str, Any]:
    results = {"sqlite": _import("bulk", args.db_n, "sqlite", args, trace=False)}
    if postgres_reachable(args.postgres):
        results["postgresql"] = _import("bulk", args.db_n, "postgresql", args, trace=False)
    else:
        print(f"  PostgreSQL not reachable at {args.postgres}: skipped", file=sys.stderr)
    return results


def _import(mode: str, n: int, db: str, args: argparse.Namespace, trace: bool) -> ImportResult:
    cap = args.cap_seconds if args.cap_seconds and n > args.cap_from else None
    return ImportResult(**_calls(run_case("import", mode=mode, n=n, database=db, trace=trace, cap=cap,
                                          postgres=args.postgres)))


def _calls(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "calls": Calls(**result["calls"])}


SCENARIOS = {"sync": scenario_sync, "import": scenario_import, "databases": scenario_databases}


# -- printing -----------------------------------------------------------------------------------------------
def report_sync(found: dict[str, Any]) -> str:
    every = [*found["limited"], found["baseline"]]
    first = every[0]
    lines = [f"## sync: Create or Update Leads, {first.registrations:,} registrations", ""]
    for r in found["limited"]:
        limits = r.limits
        lines.append(f"{r.label}: scale {limits['scale']}; the sandbox enforces {limits['sandbox'][0]} calls / "
                     f"{limits['sandbox'][1]:g} s (Marketo: {MARKETO_WINDOW[0]} / {MARKETO_WINDOW[1]:g} s), the plugin "
                     f"configuration sets the client to {limits['client'][0]} / {limits['client'][1]:g} s (Adobe's "
                     f"advice: {ADOBE_ADVICE} / {MARKETO_WINDOW[1]:g} s).")
    lines += ["", table(
        ["run", "status", "wall s", "REST calls", "Sync Leads calls", "min ceil(N/300)", "606s", "bound s",
         "wall / bound", "goal <= 1.10"],
        [[r.label, r.status, r.wall_seconds, r.calls.rest, r.sync_calls, r.min_sync_calls, r.calls.errors_606,
          r.bound_seconds, r.ratio, r.goal_met] for r in every])]
    lines += ["", "The sending phase alone (first Sync Leads call to the last, against the bound of those calls):", "",
              table(["run", "first Sync Leads call after s", "sending s", "bound s", "sending / bound"],
                    [[r.label, r.first_sync_after, r.send_seconds, r.send_bound_seconds,
                      round(r.send_seconds / r.send_bound_seconds, 3) if r.send_bound_seconds else None] for r in every])]
    lines += ["", "Calls by endpoint (first run):", "",
              table(["endpoint", "calls"], [[k, v] for k, v in first.calls.by_endpoint.items()]), "",
              "Where the time went (seconds; http includes the sandbox's own work):", "",
              _split_table([(r.label, r.wall_seconds, r.split) for r in every])]
    for r in every:
        if r.calls.errors_606:
            lines.append(f"\nFAIL: {r.label}: Marketo answered 606 (rate limit) {r.calls.errors_606} times")
    return "\n".join(lines)


def report_imports(found: dict[str, list[ImportResult]]) -> str:
    rows = [r for mode in ("bulk", "rest") for r in found[mode]]
    lines = ["## import: Import Marketo Leads as Registrations (SQLite)", "", _import_table(rows), "",
             "Where the time went (seconds):", "",
             _split_table([(f"{r.mode} {r.leads:,}", r.wall_seconds, r.split) for r in rows])]
    if found["bulk"]:
        largest = max(found["bulk"], key=lambda r: r.leads)
        lines += ["", f"Resident memory while the bulk import of {largest.leads:,} leads went on:", "",
                  table(["seconds", "leads in", "RSS MB"], [list(p) for p in thin(largest.timeline, 10)])]
    return "\n".join(lines)


def report_databases(found: dict[str, ImportResult]) -> str:
    rows = list(found.values())
    return "\n".join([f"## databases: bulk import of {rows[0].leads:,} leads, SQLite vs PostgreSQL", "",
                      _import_table(rows), "", "Where the time went (seconds):", "",
                      _split_table([(r.database, r.wall_seconds, r.split) for r in rows])])


def _import_table(rows: list[ImportResult]) -> str:
    return table(
        ["mode", "db", "leads", "imported", "status", "wall s", "leads/s", "steady leads/s", "rss peak +MB",
         "tracemalloc peak MB", "traced over leads", "API calls", "606s", "floor at 50/20 s", "capped at s"],
        [[r.mode, r.database, r.leads, r.imported, r.status, r.wall_seconds, r.leads_per_second,
          r.steady_leads_per_second, r.rss_delta_mb, r.traced_peak_mb, r.traced_leads, r.calls.rest,
          r.calls.errors_606, r.real_limit_floor_seconds, r.capped_after_seconds] for r in rows])


def _split_table(runs_: list[tuple[str, float, dict[str, float]]]) -> str:
    buckets = sorted({b for _, _, split in runs_ for b in split}, key=lambda b: (b == "python", b))
    return table(["run", "wall", *buckets], [[name, wall, *(split.get(b, 0.0) for b in buckets)] for name, wall, split in runs_])


REPORTS = {"sync": report_sync, "import": report_imports, "databases": report_databases}


def failures(name: str, found: Any) -> list[str]:
    results = list(found.values()) if isinstance(found, dict) else [found]
    flat = [r for item in results for r in (item if isinstance(item, list) else [item])]
    problems = [f"{name}: {getattr(r, 'label', '') or r.mode} {getattr(r, 'leads', '')} {r.status}: {r.error}"
                for r in flat if r.status not in ("succeeded", "cancelled")]
    problems += [f"{name}: {r.calls.errors_606} x 606" for r in flat if r.calls.errors_606]
    return problems


# -- command line ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/marketo.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and a 1 s window (< 60 s in all)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="repeatable; default: all")
    parser.add_argument("--sync-n", type=int, help=f"registrations for sync (default {FULL['sync_n']:,})")
    parser.add_argument("--bulk-sizes", type=_sizes, help="leads per bulk import, comma-separated")
    parser.add_argument("--rest-sizes", type=_sizes, help="leads per REST-paging import (the baseline)")
    parser.add_argument("--db-n", type=int, help="leads for the SQLite / PostgreSQL comparison")
    parser.add_argument("--windows", type=_windows,
                        help="rate windows in seconds for sync, comma-separated (default 4,20: Marketo's 20 s x 1/5, x1)")
    parser.add_argument("--sandbox-limit", type=int, help="calls per window the sandbox allows (default 100)")
    parser.add_argument("--client-limit", type=int, help="calls per window the client is set to (default 50)")
    parser.add_argument("--no-trace", dest="trace", action="store_false",
                        help="skip the tracemalloc pass of each import size")
    parser.add_argument("--trace-limit", type=int, default=None,
                        help="run the tracemalloc pass only for sizes up to this")
    parser.add_argument("--cap-seconds", type=float, default=900.0,
                        help="stop an import of more than --cap-from leads after this long (default 900; 0: never)")
    parser.add_argument("--cap-from", type=int, default=100_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server for the databases scenario "
                        "(a database of its own is created and dropped)")
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/marketo-<timestamp>.json)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--case-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _windows(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.case:  # a child: one measured case
        case = json.loads(args.case)
        args.case_out.write_text(json.dumps(CASES[case["kind"]](case)))
        return 0
    chosen = args.scenario or list(SCENARIOS)
    started, stamp = time.perf_counter(), datetime.now().strftime("%Y%m%d-%H%M%S")
    output = args.output or HERE / "results" / f"marketo-{stamp}.json"
    data: dict[str, Any] = {
        "benchmark": "marketo", "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(args.postgres),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                       if k not in ("case", "case_out")},
        "scenarios": {}, "scenario_seconds": {}, "failures": [],
    }
    print(table(["machine", ""], [[k, v] for k, v in data["machine"].items()]) + "\n")
    for name in chosen:
        began = time.perf_counter()
        found = SCENARIOS[name](args)
        data["scenario_seconds"][name] = round(time.perf_counter() - began, 1)
        data["scenarios"][name] = _plain(found)
        data["failures"] += failures(name, found)
        print(REPORTS[name](found) + f"\n\n(scenario {name}: {data['scenario_seconds'][name]:,.0f} s)\n", flush=True)
        write_json(output, data)  # after each scenario: a long run that dies keeps what it measured
    data["duration_seconds"] = round(time.perf_counter() - started, 1)
    write_json(output, data)
    for problem in data["failures"]:
        print(f"FAIL: {problem}")
    print(f"figures written to {output}")
    return 1 if data["failures"] else 0


def _plain(found: Any) -> Any:
    if isinstance(found, dict):
        return {k: _plain(v) for k, v in found.items()}
    if isinstance(found, list):
        return [_plain(v) for v in found]
    return asdict(found) if hasattr(found, "__dataclass_fields__") else found


if __name__ == "__main__":
    sys.exit(main())
