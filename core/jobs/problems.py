"""A run's problems: its failed and skipped records, filtered, paged, exported, retried, dismissed.

Retrying is a new run of the same job (trigger ``retry``) that names the run it retries and the
record keys asked for (``JobRun.retry_of_id`` / ``retry_keys``). It processes only those records:
the handler's context carries the keys (``ctx.only_keys``), outbound jobs' registration selection
narrows to them in SQL (``connectors.selection``), imports read or keep only those. A retry run
neither moves the incremental watermark (``ctx.since`` is None in it, and the next run's watermark
ignores it) nor leaves a checkpoint for the next run; the retried keys' fate is read from the new
run's records (matched on the key's registration code or remote id, so a fixed email still counts).
Dismissing hides records from the open problems; they stay in the counts and in the CSV.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterable, Iterator

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ..models import Job, JobRun, RunRecord, utcnow
from ..selection import key_identity
from . import runs
from .execute import RETRY_TRIGGER

PROBLEM_OUTCOMES = ("failed", "skipped")
SHOWS = ("open", "dismissed", "all")
CSV_COLUMNS = ("record", "outcome", "stage", "code", "message", "dismissed_at", "dismissed_by")
#: a spreadsheet runs a cell starting with one of these as a formula (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: the most keys one retry asks for (the run's selection names them all in one query)
MAX_RETRY_KEYS = 10_000


class RetryRefused(ValueError):
    """Why a retry cannot start now (the job is disabled, or already has a run going)."""


@dataclass(frozen=True)
class ProblemFilter:
    """What the problems view narrows to; empty fields filter nothing."""

    outcome: str = ""
    stage: str = ""
    code: str = ""
    text: str = ""  # in the record key or the message, case-insensitive
    show: str = "open"  # open | dismissed | all

    @classmethod
    def from_args(cls, args) -> "ProblemFilter":
        """From a query string (a ``dict``-like); unknown values are dropped, not errors."""
        def get(name: str) -> str:
            return (args.get(name) or "").strip()[:200]
        outcome, show = get("outcome"), get("show") or "open"
        return cls(outcome=outcome if outcome in PROBLEM_OUTCOMES else "", stage=get("stage"), code=get("code"),
                   text=get("text"), show=show if show in SHOWS else "open")

    def conditions(self, run_id: int) -> list:
        where = [RunRecord.run_id == run_id, RunRecord.outcome.in_(PROBLEM_OUTCOMES)]
        if self.outcome:
            where.append(RunRecord.outcome == self.outcome)
        if self.stage:
            where.append(RunRecord.stage == self.stage)
        if self.code:
            where.append(RunRecord.code == self.code)
        if self.text:
            pattern = "%" + self.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(or_(func.lower(RunRecord.record_key).like(pattern, escape="\\"),
                             func.lower(func.coalesce(RunRecord.message, "")).like(pattern, escape="\\")))
        if self.show == "open":
            where.append(RunRecord.dismissed_at.is_(None))
        elif self.show == "dismissed":
            where.append(RunRecord.dismissed_at.is_not(None))
        return where

    def as_args(self) -> dict[str, str]:
        """The non-empty fields, for links that keep the filter (pages, CSV)."""
        return {k: v for k, v in vars(self).items() if v and not (k == "show" and v == "open")}


@dataclass(frozen=True)
class ProblemPage:
    records: list[RunRecord]
    total: int  # matching the filter
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def page(session: Session, run: JobRun, flt: ProblemFilter, number: int = 1, per_page: int = 50) -> ProblemPage:
    where = flt.conditions(run.id)
    total = session.scalar(select(func.count(RunRecord.id)).where(*where)) or 0
    number = min(max(1, number), max(1, -(-total // per_page)))
    rows = list(session.scalars(select(RunRecord).where(*where).order_by(RunRecord.id)
                                .offset((number - 1) * per_page).limit(per_page)))
    return ProblemPage(rows, total, number, per_page)


def choices(session: Session, run: JobRun) -> dict[str, list[str]]:
    """The stages and codes this run's problems have, for the filter's drop-downs."""
    base = (RunRecord.run_id == run.id, RunRecord.outcome.in_(PROBLEM_OUTCOMES))
    return {name: [v for v in session.scalars(select(column).where(*base, column.is_not(None)).distinct().order_by(column))]
            for name, column in (("stages", RunRecord.stage), ("codes", RunRecord.code))}


def open_count(session: Session, run_id: int) -> int:
    return session.scalar(select(func.count(RunRecord.id)).where(*ProblemFilter().conditions(run_id))) or 0


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(session: Session, run: JobRun, flt: ProblemFilter, batch: int = 1000) -> Iterator[str]:
    """The matching problems as CSV text, a header then one line per record, read ``batch`` rows at
    a time by id (a run with a million problems streams in constant memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(c) for c in cells])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    where, after = flt.conditions(run.id), 0
    while True:
        rows = session.execute(select(RunRecord.id, RunRecord.record_key, RunRecord.outcome, RunRecord.stage,
                                      RunRecord.code, RunRecord.message, RunRecord.dismissed_at, RunRecord.dismissed_by)
                               .where(*where, RunRecord.id > after).order_by(RunRecord.id).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            at = row.dismissed_at.isoformat().replace("+00:00", "Z") if row.dismissed_at else ""
            yield line((row.record_key, row.outcome, row.stage, row.code, row.message, at, row.dismissed_by))
        after = rows[-1].id


def dismiss(session: Session, run: JobRun, by: str, record_ids: Iterable[int] | None = None,
            flt: ProblemFilter | None = None) -> int:
    """Dismiss the given open records of this run (``record_ids``), or every open one matching
    ``flt``; returns how many were dismissed. Ids of another run are ignored."""
    where = (flt or ProblemFilter()).conditions(run.id) + [RunRecord.dismissed_at.is_(None)]
    if record_ids is not None:
        ids = [int(i) for i in record_ids]
        if not ids:
            return 0
        where.append(RunRecord.id.in_(ids))
    res = session.execute(update(RunRecord).where(*where).values(dismissed_at=utcnow(), dismissed_by=by[:320])
                          .execution_options(synchronize_session=False))
    return res.rowcount or 0


def keys_to_retry(session: Session, run: JobRun, record_ids: Iterable[int] | None = None,
                  flt: ProblemFilter | None = None) -> list[str]:
    """The distinct record keys of the chosen problems (or every open one matching ``flt``)."""
    where = (flt or ProblemFilter()).conditions(run.id)
    if record_ids is not None:
        where.append(RunRecord.id.in_([int(i) for i in record_ids] or [0]))
    return list(dict.fromkeys(session.scalars(select(RunRecord.record_key).where(*where).order_by(RunRecord.id))))


def retry(session: Session, run: JobRun, keys: list[str]) -> JobRun:
    """Queue a retry of ``keys`` of ``run``: a new run of its job (see the module's docstring),
    in the caller's transaction. Refused while the job is disabled or has a run queued or running."""
    if not keys:
        raise RetryRefused("no records to retry")
    if len(keys) > MAX_RETRY_KEYS:
        raise RetryRefused(f"{len(keys):,} records are more than one retry takes ({MAX_RETRY_KEYS:,}): narrow the "
                           "filter, or run the whole job again with Run now")
    job: Job = run.job
    if not job.enabled:
        raise RetryRefused("the job is disabled: enable it before retrying")
    if session.scalar(select(JobRun.id).where(JobRun.job_id == job.id, JobRun.status.in_(("queued", "running"))).limit(1)):
        raise RetryRefused("a run of this job is already queued or running: retry when it has ended")
    retry_run = runs.enqueue(session, job, trigger=RETRY_TRIGGER)
    retry_run.retry_of_id, retry_run.retry_keys = run.id, keys
    retry_run.log = [runs.log_entry("info", f"retry of {len(keys)} record{'s' if len(keys) != 1 else ''} of run #{run.id}: "
                                            "only these records are processed")]
    session.flush()
    return retry_run


@dataclass(frozen=True)
class RetryOutcome:
    """How a retry run's asked-for keys came out: still failing or skipped in it, or not anymore."""

    asked: int
    still_failing: list[str]
    fixed: list[str]


def retry_outcome(session: Session, retry_run: JobRun) -> RetryOutcome | None:
    """For an ended retry run: which of its keys are still problems (None while it runs)."""
    keys = retry_run.retry_keys or []
    if not retry_run.ended or not keys:
        return None
    # the retry run holds only the asked-for records: its problems are few, read them all
    problems = session.scalars(select(RunRecord.record_key).where(
        RunRecord.run_id == retry_run.id, RunRecord.outcome.in_(PROBLEM_OUTCOMES)))
    still = {key_identity(k) for k in problems}
    failing = [k for k in keys if key_identity(k) in still]
    # a run that did not get through (an error, a stop) proves nothing fixed; one whose records all
    # failed did get through ("failed" without an error)
    if retry_run.status in ("cancelled", "quota_exhausted") or retry_run.error:
        return RetryOutcome(len(keys), failing, [])
    return RetryOutcome(len(keys), failing, [k for k in keys if key_identity(k) not in still])
