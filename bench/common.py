"""What the benchmarks share: the machine they ran on, a timer that splits a run's wall time,
memory probes, one child process per measured case, throwaway PostgreSQL databases, tables.

Benchmarks, not tests: they print figures and write them as JSON; nothing here asserts.
"""
from __future__ import annotations

import functools
import json
import multiprocessing
import os
import platform
import resource
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import sqlalchemy
from sqlalchemy import create_engine, text

MB = 1024 * 1024
DEFAULT_POSTGRES = os.environ.get("CONNECTORS_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")


# -- the machine ------------------------------------------------------------------------------------
def machine(postgres_url: str | None = None) -> dict[str, Any]:
    """CPU, memory, Python and database versions: what a reader needs to compare figures."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpuinfo("model name"),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(postgres_url) if postgres_url else None,
    }


def _cpuinfo(key: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def postgres_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2).close()
        return True
    except OSError:
        return False


def postgres_version(url: str) -> str | None:
    if not postgres_reachable(url):
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW server_version")).scalar()
    except Exception as exc:  # noqa: BLE001 - a version string is nice to have, not needed
        return f"unknown ({type(exc).__name__})"
    finally:
        engine.dispose()


@contextmanager
def postgres_database(admin_url: str, prefix: str = "bench") -> Iterator[str]:
    """A new, uniquely named database on the server of ``admin_url``, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- where the time goes ----------------------------------------------------------------------------
class Split:
    """Exclusive time per bucket on one thread: wrapped calls charge their time to their bucket,
    minus what calls wrapped inside them charged to theirs. What no bucket claims is "python"
    (ORM, mapping, parsing, the job's own logic). Other threads (the lease keeper) are ignored."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._thread = threading.get_ident()
        self._stack: list[list[Any]] = []  # [bucket, started, charged to nested buckets]
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, bucket: str) -> None:
        """Time ``owner.name`` (a class or an instance attribute) under ``bucket`` until ``restore``."""
        original = getattr(owner, name)
        had_own = name in vars(owner)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(bucket):
                return original(*args, **kwargs)

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original) if had_own else delattr(owner, name))

    @contextmanager
    def timing(self, bucket: str) -> Iterator[None]:
        if threading.get_ident() != self._thread:
            yield
            return
        frame = [bucket, time.perf_counter(), 0.0]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            spent = time.perf_counter() - frame[1]
            self.seconds[bucket] = self.seconds.get(bucket, 0.0) + spent - frame[2]
            if self._stack:
                self._stack[-1][2] += spent

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()

    def figures(self, wall: float) -> dict[str, float]:
        out = {bucket: round(seconds, 2) for bucket, seconds in sorted(self.seconds.items())}
        out["python"] = round(wall - sum(self.seconds.values()), 2)
        return out


def time_sql(split: Split, engine: Any) -> None:
    """Charge the driver's execute and commit calls of ``engine`` to "sql" (fetching rows and
    building ORM objects stay with the caller's bucket)."""
    dialect = engine.dialect
    for name in ("do_execute", "do_executemany", "do_execute_no_params", "do_commit"):
        split.wrap(dialect, name, "sql")


# -- memory -----------------------------------------------------------------------------------------
def rss_peak_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """This process's resident set now (cheap: one read of /proc)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / MB, 1)


@dataclass
class MemoryProbe:
    """Peak memory over a stretch of work: ``ru_maxrss`` growth always, tracemalloc's peak of
    Python allocations when ``trace`` (it slows allocation-heavy code, so it is optional)."""

    trace: bool = False
    rss_before_mb: float = 0.0
    rss_peak_mb: float = 0.0
    traced_peak_mb: float | None = None

    def __enter__(self) -> "MemoryProbe":
        self.rss_before_mb = rss_peak_mb()
        if self.trace:
            tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.trace:
            self.traced_peak_mb = round(tracemalloc.get_traced_memory()[1] / MB, 1)
            tracemalloc.stop()
        self.rss_peak_mb = rss_peak_mb()

    @property
    def rss_delta_mb(self) -> float:
        return round(self.rss_peak_mb - self.rss_before_mb, 1)


# -- one case per child process ---------------------------------------------------------------------
def run_child(script: Path, case: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --case <json> --case-out <file>`` in a fresh interpreter (so memory figures
    of two cases never mix) and return the JSON it wrote. Its stderr passes through."""
    out = Path(f"/tmp/bench-case-{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
    try:
        subprocess.run([sys.executable, str(script), "--case", json.dumps(case), "--case-out", str(out)],
                       check=True, timeout=timeout, stdout=sys.stderr)
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


# -- a server in a forked child ----------------------------------------------------------------------
class ForkedServer:
    """``target(pipe, options)`` in a forked child (fork before the case starts any thread): it
    sends one first message (``self.ready``: how to reach it), then answers each request sent by
    ``ask`` until it receives "stop". A sandbox there shares neither the case's GIL nor its memory."""

    def __init__(self, target: Callable[[Any, dict[str, Any]], None], options: dict[str, Any]):
        self.target, self.options = target, options
        self.ready: Any = None

    def __enter__(self) -> "ForkedServer":
        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=self.target, args=(child_end, self.options), daemon=True)
        self._process.start()
        self.ready = self._pipe.recv()
        return self

    @property
    def pid(self) -> int:
        return self._process.pid

    def ask(self, request: Any) -> Any:
        self._pipe.send(request)
        return self._pipe.recv()

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()


# -- output -----------------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (readable as plain text, pastes into docs)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
