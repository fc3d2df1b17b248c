"""Bulk Lead Extract inside the sandbox (spec §4.1): export jobs, their lifecycle on a
controllable clock, the files they write, Marketo's limits and scripted faults.

Plain Python, no HTTP (that is ``bulk_routes.py``), so tests drive and inspect it directly as
``sandbox.bulk``. A job's file is written once, to a temporary folder, when the job completes,
and served from a memory map: a million-lead export costs the sandbox disk, not heap — which
also keeps the sandbox out of a client's memory measurements when both share a process.

The scripted faults live in ``bulk_faults.py``, the leads an export selects (synthetic leads,
smart lists) in ``bulk_leads.py``; their names stay importable from here.
"""
from __future__ import annotations

import csv
import hashlib
import mmap
import os
import shutil
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from .bulk_faults import BulkFaults, DirtyCsv, JobFaults
from .bulk_leads import DAY, LeadSources, SmartList, SyntheticLeads, iso, stamp

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox

__all__ = [
    "CREATED", "QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED", "ACTIVE", "FINAL", "DELIMITERS", "DAY",
    "FILE_DAYS", "STATUS_DAYS", "LIST_DAYS", "CENTRAL", "iso", "stamp", "DirtyCsv", "JobFaults", "BulkFaults",
    "SyntheticLeads", "SmartList", "ExportJob", "BulkExports", "EnqueueRefused",
]

CREATED, QUEUED, PROCESSING = "Created", "Queued", "Processing"
COMPLETED, FAILED, CANCELLED = "Completed", "Failed", "Cancelled"
ACTIVE = (QUEUED, PROCESSING)
FINAL = (COMPLETED, FAILED, CANCELLED)
#: the docs disagree on SSV (semicolon in "Bulk Extract", space in "Bulk Lead Extract"): semicolon
DELIMITERS = {"CSV": ",", "TSV": "\t", "SSV": ";"}
FILE_DAYS, STATUS_DAYS, LIST_DAYS = 7, 30, 7
#: the daily export quota resets at midnight US Central time (fixed offset: no DST here)
CENTRAL = timezone(timedelta(hours=-6))


@dataclass
class ExportJob:
    """One export: its definition, where it is in its lifecycle, and its file once written."""

    id: str
    fields: list[str]
    headers: list[str]
    format: str
    filter_type: str
    filter_value: Any
    created_at: float
    faults: JobFaults
    status: str = CREATED
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    released_at: float = 0.0  # a held job moves on no earlier than this
    records: int | None = None
    size: int | None = None
    checksum: str | None = None
    error_msg: str | None = None
    path: str | None = None
    _map: mmap.mmap | None = field(default=None, repr=False)

    def record(self) -> dict[str, Any]:
        """The status JSON: Marketo leaves out what is not known yet."""
        out: dict[str, Any] = {"exportId": self.id, "format": self.format, "status": self.status,
                               "createdAt": iso(self.created_at)}
        for key, moment in (("queuedAt", self.queued_at), ("startedAt", self.started_at),
                            ("finishedAt", self.finished_at)):
            if moment is not None:
                out[key] = iso(moment)
        if self.status == COMPLETED:
            out.update(numberOfRecords=self.records, fileSize=self.size, fileChecksum=f"sha256:{self.checksum}")
        if self.status == FAILED:
            out["errorMsg"] = self.error_msg
        return out

    def view(self) -> memoryview | None:
        """The whole file as a zero-copy view, or None when there is none (yet, or any more)."""
        if self.path is None:
            return None
        if self._map is None:
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return memoryview(self._map)

    def drop_file(self) -> None:
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self.path = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a response still holds a view; the map goes with it
                pass
            self._map = None


class BulkExports(LeadSources):
    """The export jobs of one sandbox. Times come from ``clock`` (default: the sandbox's) plus
    whatever ``advance()`` added, so tests move jobs along without sleeping."""

    def __init__(self, sandbox: "MarketoSandbox", clock: Callable[[], float] | None = None, *,
                 queue_seconds: float = 0.0, processing_seconds: float = 0.0, max_running: int = 2,
                 max_queued: int = 10, daily_quota_mb: float = 500):
        self.sandbox = sandbox
        self.lock = sandbox.lock
        self.clock = clock or getattr(sandbox, "clock", time.time)
        self.offset = 0.0
        self.queue_seconds = queue_seconds
        self.processing_seconds = processing_seconds
        self.max_running = max_running
        self.max_queued = max_queued
        self.daily_quota_mb = daily_quota_mb
        self.faults = BulkFaults(self)
        self.jobs: dict[str, ExportJob] = {}
        self.segments: list[SyntheticLeads] = []
        self.smart_lists: dict[int, SmartList] = {}
        self._used: dict[str, int] = {}  # bytes exported per Central-time day
        self._last_event = 0.0
        self._dir = tempfile.mkdtemp(prefix="marketo-bulk-")
        weakref.finalize(self, shutil.rmtree, self._dir, True)

    # -- the clock ----------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the bulk clock forward (usable as a client's ``sleep``)."""
        with self.lock:
            self.offset += seconds

    # -- the daily export quota ------------------------------------------------------------------
    def use_quota(self, megabytes: float) -> None:
        """Pretend other exports already used ``megabytes`` of today's quota."""
        with self.lock:
            key = self._day(self.now())
            self._used[key] = self._used.get(key, 0) + int(megabytes * 1024 * 1024)

    def used_today(self) -> int:
        with self.lock:
            return self._used.get(self._day(self.now()), 0)

    def quota_exceeded(self) -> bool:
        return self.daily_quota_mb is not None and self.used_today() >= self.daily_quota_mb * 1024 * 1024

    # -- lifecycle -------------------------------------------------------------------------------
    def create(self, fields: list[str], headers: list[str], fmt: str, filter_type: str, filter_value: Any) -> ExportJob:
        with self.lock:
            self.tick()
            job = ExportJob(str(uuid.uuid4()), fields, headers, fmt, filter_type, filter_value, self.now(),
                            self.faults.take_next())
            self.jobs[job.id] = job
            return job

    def get(self, export_id: str) -> ExportJob | None:
        with self.lock:
            self.tick()
            return self.jobs.get(export_id)

    def enqueue(self, job: ExportJob) -> None:
        """Created -> Queued. Raises ``EnqueueRefused`` (1029 in the API) when it cannot."""
        with self.lock:
            forced = self.faults.take_refusal()
            if forced == "queue":
                raise EnqueueRefused("Too many jobs in queue")
            if forced == "quota" or (job.status == CREATED and self.quota_exceeded()):
                raise EnqueueRefused(f"Export daily quota {self.daily_quota_mb:g}MB exceeded")
            if job.status in ACTIVE:
                raise EnqueueRefused("Job already queued")
            if job.status != CREATED:
                raise ValueError(f"Job in status {job.status} cannot be queued")
            if sum(1 for j in self.jobs.values() if j.status in ACTIVE) >= self.max_queued:
                raise EnqueueRefused("Too many jobs in queue")
            job.status, job.queued_at = QUEUED, self.now()
            self.tick()

    def cancel(self, job: ExportJob) -> None:
        with self.lock:
            if job.status in FINAL:
                raise ValueError(f"Job in status {job.status} cannot be cancelled")
            job.status, job.finished_at = CANCELLED, self.now()

    def polled(self, job: ExportJob) -> None:
        """A status poll saw ``job``: count it against a "stays Queued/Processing" fault."""
        with self.lock:
            for name, status in (("hold_queued", QUEUED), ("hold_processing", PROCESSING)):
                held = getattr(job.faults, name)
                if job.status == status and held > 0:
                    setattr(job.faults, name, held - 1)
                    if held - 1 <= 0:
                        job.released_at = self.now()

    def listed(self, statuses: set[str] | None) -> list[ExportJob]:
        with self.lock:
            self.tick()
            since = self.now() - LIST_DAYS * DAY
            return [j for j in self.jobs.values()
                    if j.created_at >= since and (statuses is None or j.status in statuses)]

    def tick(self) -> None:
        """Apply every start and finish due by now, in time order, at most ``max_running`` at once."""
        with self.lock:
            now = self.now()
            while True:
                running = [j for j in self.jobs.values() if j.status == PROCESSING]
                events = [(max(j.started_at + self.processing_seconds, j.released_at), 0, j)
                          for j in running if j.faults.hold_processing <= 0]
                if len(running) < self.max_running:
                    waiting = sorted((j for j in self.jobs.values() if j.status == QUEUED and j.faults.hold_queued <= 0),
                                     key=lambda j: j.queued_at)
                    if waiting:
                        job = waiting[0]
                        events.append((max(job.queued_at + self.queue_seconds, job.released_at, self._last_event), 1, job))
                due = [e for e in events if e[0] <= now]
                if not due:
                    break
                moment, kind, job = min(due, key=lambda e: (e[0], e[1]))
                self._last_event = max(self._last_event, moment)
                if kind == 1:
                    job.status, job.started_at = PROCESSING, moment
                else:
                    self._finish(job, moment)
            self._expire(now)

    def _finish(self, job: ExportJob, moment: float) -> None:
        job.finished_at = moment
        if job.faults.fail_with is not None:
            job.status, job.error_msg = FAILED, job.faults.fail_with
            return
        self._write(job)
        job.status = COMPLETED
        key = self._day(moment)
        self._used[key] = self._used.get(key, 0) + (job.size or 0)

    def _expire(self, now: float) -> None:
        for job in list(self.jobs.values()):
            last = job.finished_at if job.finished_at is not None else job.created_at
            if now - last > STATUS_DAYS * DAY:
                job.drop_file()
                del self.jobs[job.id]
            elif job.path and job.finished_at is not None and now - job.finished_at > FILE_DAYS * DAY:
                job.drop_file()

    @staticmethod
    def _day(moment: float) -> str:
        return datetime.fromtimestamp(moment, CENTRAL).strftime("%Y-%m-%d")

    # -- the file ----------------------------------------------------------------------------------
    def _write(self, job: ExportJob) -> None:
        """Write the file once, streaming rows to disk; then size and SHA-256 from the disk."""
        path = os.path.join(self._dir, f"{job.id}.{job.format.lower()}")
        delimiter, dirty = DELIMITERS[job.format], job.faults.dirty
        terminator = "\r\n" if dirty and dirty.crlf else "\n"
        count = 0
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator)
            writer.writerow(job.headers)
            for lead in self.selection(job):
                count += 1
                values = [_cell(lead.get(name)) for name in job.fields]
                if dirty and count in dirty.misaligned_rows:  # an unquoted delimiter: one column too many
                    out.write(delimiter.join(v.replace("\n", " ") for v in values) + f"{delimiter}株式会社{terminator}")
                    continue
                writer.writerow(dirty.soil(values, count) if dirty else values)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        job.path, job.records, job.size, job.checksum = path, count, os.path.getsize(path), digest.hexdigest()

    def close(self) -> None:
        """Remove every file (the sandbox also cleans up when it is garbage collected)."""
        with self.lock:
            for job in self.jobs.values():
                job.drop_file()
        shutil.rmtree(self._dir, ignore_errors=True)


class EnqueueRefused(Exception):
    """Marketo's 1029: queue full, job already queued, or the daily export quota is spent."""


def _cell(value: Any) -> str:
    """Marketo writes an empty value as the literal ``null``."""
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
