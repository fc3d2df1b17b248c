"""Bulk Lead Extract inside the sandbox (spec §4.1): export jobs, their lifecycle on a
controllable clock, the files they write, Marketo's limits and scripted faults.

Plain Python, no HTTP (that is ``bulk_routes.py``), so tests drive and inspect it directly as
``sandbox.bulk``. A job's file is written once, to a temporary folder, when the job completes,
and served from a memory map: a million-lead export costs the sandbox disk, not heap — which
also keeps the sandbox out of a client's memory measurements when both share a process.
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
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .seed import COMPANIES, FIRST_NAMES, LAST_NAMES, PLACES, TITLES

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox

CREATED, QUEUED, PROCESSING = "Created", "Queued", "Processing"
COMPLETED, FAILED, CANCELLED = "Completed", "Failed", "Cancelled"
ACTIVE = (QUEUED, PROCESSING)
FINAL = (COMPLETED, FAILED, CANCELLED)
#: the docs disagree on SSV (semicolon in "Bulk Extract", space in "Bulk Lead Extract"): semicolon
DELIMITERS = {"CSV": ",", "TSV": "\t", "SSV": ";"}
DAY = 86400.0
FILE_DAYS, STATUS_DAYS, LIST_DAYS = 7, 30, 7
#: the daily export quota resets at midnight US Central time (fixed offset: no DST here)
CENTRAL = timezone(timedelta(hours=-6))


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(text: str) -> float:
    """Epoch seconds of an ISO-8601 datetime (no zone means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


# -- faults ------------------------------------------------------------------------------------
@dataclass
class DirtyCsv:
    """What real export files carry (spec §5.5 #8): NUL bytes and stray carriage returns inside
    values, CRLF line ends, rows with one column too many. Every ``every``-th row is soiled so
    that dropping NUL and CR gives the clean values back."""

    every: int = 3
    crlf: bool = True
    misaligned_rows: frozenset[int] = frozenset()

    def soil(self, values: list[str], row: int) -> list[str]:
        if row % self.every:
            return values
        return [v if v == "null" else f"{v[:1]}\0{v[1:]}\r" for v in values]


@dataclass
class JobFaults:
    hold_queued: float = 0       # status polls that still see Queued
    hold_processing: float = 0   # status polls that still see Processing
    fail_with: str | None = None  # errorMsg: the job ends Failed
    file_missing: int = 0        # file requests answered 404 although Completed
    truncate: int = 0            # file answers cut to half of what was asked
    corrupt: int = 0             # file answers with one byte changed
    drop: int = 0                # file requests whose connection is dropped
    dirty: DirtyCsv | None = None


class BulkFaults:
    """Scripted bulk faults. Each job fault applies to the export with ``export_id``, or to the
    next export created when none is given."""

    def __init__(self, exports: "BulkExports"):
        self._exports = exports
        self._next = JobFaults()
        self._refusals: deque[str] = deque()
        self.unsupported: set[str] = set()

    def _target(self, export_id: str | None) -> JobFaults:
        return self._next if export_id is None else self._exports.jobs[export_id].faults

    def stay_queued(self, polls: float = float("inf"), export_id: str | None = None) -> None:
        self._target(export_id).hold_queued = polls

    def stay_processing(self, polls: float = float("inf"), export_id: str | None = None) -> None:
        self._target(export_id).hold_processing = polls

    def fail(self, error_msg: str = "Export failed: internal error", export_id: str | None = None) -> None:
        self._target(export_id).fail_with = error_msg

    def file_missing(self, requests: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).file_missing = requests

    def truncate_file(self, times: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).truncate = times

    def corrupt_file(self, times: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).corrupt = times

    def drop_file_connection(self, times: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).drop = times

    def dirty_csv(self, every: int = 3, crlf: bool = True, misaligned_rows: Iterable[int] = (),
                  export_id: str | None = None) -> None:
        self._target(export_id).dirty = DirtyCsv(every, crlf, frozenset(misaligned_rows))

    def queue_full(self, times: int = 1) -> None:
        """The next ``times`` enqueues get 1029 "Too many jobs in queue"."""
        self._refusals.extend(["queue"] * times)

    def quota_exceeded(self, times: int = 1) -> None:
        """The next ``times`` enqueues get 1029 "Export daily quota …MB exceeded"."""
        self._refusals.extend(["quota"] * times)

    def unsupported_filters(self, *names: str) -> None:
        """These filters answer 1035 (default: updatedAt and the smart-list ones)."""
        self.unsupported = set(names or ("updatedAt", "smartListId", "smartListName"))

    def take_next(self) -> JobFaults:
        taken, self._next = self._next, JobFaults()
        return taken

    def take_refusal(self) -> str | None:
        return self._refusals.popleft() if self._refusals else None

    def clear(self) -> None:
        self._next, self.unsupported = JobFaults(), set()
        self._refusals.clear()


# -- synthetic leads -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticLeads:
    """``count`` leads with ids from ``first_id``, each made up from its id when read."""

    first_id: int
    count: int
    list_id: int | None
    created_from: float
    span: int
    dirty: bool = False

    def leads(self) -> Iterator[dict[str, Any]]:
        return map(self.lead, range(self.first_id, self.first_id + self.count))

    def lead(self, k: int) -> dict[str, Any]:
        company, domain = COMPANIES[(k // 3) % len(COMPANIES)]
        city, state, country = PLACES[(k // 11) % len(PLACES)][:3]
        created = self.created_from + (k * 7919) % self.span
        lead = {"id": k, "email": f"lead{k}@{domain}", "firstName": FIRST_NAMES[k % len(FIRST_NAMES)],
                "lastName": LAST_NAMES[(k // 7) % len(LAST_NAMES)], "company": company,
                "title": TITLES[k % len(TITLES)] if k % 10 else None, "city": city, "state": state,
                "country": country, "createdAt": iso(created), "updatedAt": iso(created + (k * 104729) % DAY)}
        if self.dirty and k % 97 == 0:
            lead.update(company='株式会社サクラ, "東京"', title="Head of\nEvents")
        return lead


@dataclass(frozen=True)
class SmartList:
    id: int
    name: str
    lead_ids: frozenset[int]
    where: Callable[[dict[str, Any]], bool] | None

    def contains(self, lead: dict[str, Any]) -> bool:
        return lead["id"] in self.lead_ids or bool(self.where and self.where(lead))


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


class BulkExports:
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

    # -- data ----------------------------------------------------------------------------------
    def add_synthetic_leads(self, count: int, list_name: str | None = None, *, created_from: str = "2025-03-01T00:00:00Z",
                            days: int = 30, dirty: bool = False) -> SyntheticLeads:
        """``count`` leads made up on the fly from their id, seen by exports only (REST reads do
        not see them): a million cost a range, not a million dicts. With ``list_name`` they are
        the members of that static list (created when missing); createdAt falls within ``days``
        from ``created_from``; ``dirty`` puts CJK, quotes and newlines in some values."""
        with self.lock:
            store = self.sandbox.store
            first_id = max([store._next_lead_id, *(s.first_id + s.count for s in self.segments)])
            store._next_lead_id = first_id + count  # REST-created leads must not reuse these ids
            list_id = None
            if list_name is not None:
                found = store.find_lists(names={list_name})
                list_id = found[0]["id"] if found else store.add_list(list_name)["id"]
            segment = SyntheticLeads(first_id, count, list_id, stamp(created_from), int(days * DAY), dirty)
            self.segments.append(segment)
            return segment

    def add_smart_list(self, name: str, lead_ids: Iterable[int] = (),
                       where: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """A smart list for the smartListId/smartListName filters: the leads in ``lead_ids`` and
        those ``where`` accepts. Returns its id."""
        with self.lock:
            list_id = 5000 + len(self.smart_lists) + 1
            self.smart_lists[list_id] = SmartList(list_id, name, frozenset(int(i) for i in lead_ids), where)
            return list_id

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

    def selection(self, job: ExportJob) -> Iterator[dict[str, Any]]:
        """The leads the job's filter picks, real ones by id then synthetic ones."""
        store, kind, value = self.sandbox.store, job.filter_type, job.filter_value
        if kind in ("staticListId", "staticListName"):
            yield from store.member_leads(value)
            for segment in self.segments:
                if segment.list_id == value:
                    yield from segment.leads()
            return
        if kind in ("createdAt", "updatedAt"):
            low, high = value
            def wanted(lead: dict[str, Any]) -> bool:
                return lead.get(kind) is not None and low <= stamp(lead[kind]) <= high
        else:
            wanted = self.smart_lists[value].contains
        for lead in sorted(store.leads.values(), key=lambda lead: lead["id"]):
            if wanted(lead):
                yield lead
        for segment in self.segments:
            yield from (lead for lead in segment.leads() if wanted(lead))

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
