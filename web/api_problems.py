"""API: what the problems view does with a run's failed and skipped records — retry them in a new
run that processes only their keys, dismiss them, download them as CSV — through the same core
functions (``connectors.jobs.problems``) and the same look-up (``access.run_or_404``): whoever may
see the run may act on its problems."""
from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.jobs import problems
from connectors.jobs.problems import ProblemFilter, RetryRefused
from connectors.models import JobRun, RunRecord

from . import access
from .api import bp
from .api_jobs import run_summary
from .api_problem_schemas import DismissOut, ProblemChoice, ProblemFilterIn, RetryOut
from .api_support import ApiError, dump, load_body, load_query, operation
from .db import get_db

#: at most this many unknown keys are named in a 422 (the rest would only make it longer)
NAMED_UNKNOWN = 20
CHOOSING = ("Name the records with `keys` (their `record_key`), or with `filter` (`outcome`, `stage`, `code`, "
            "`text`, `show`: the problems view's filter; `{}` is every open problem).")


def _filter(args: dict[str, Any]) -> ProblemFilter:
    return ProblemFilter.from_args(args)


def _records_of_keys(db: Session, run: JobRun, keys: list[str]) -> dict[str, list[int]]:
    """The problem records of ``run`` with these keys, by key; 422 naming each key that is not one."""
    found: dict[str, list[int]] = {}
    wanted = list(dict.fromkeys(keys))
    for start in range(0, len(wanted), 1000):  # bounded IN lists
        rows = db.execute(select(RunRecord.record_key, RunRecord.id).where(
            *ProblemFilter(show="all").conditions(run.id), RunRecord.record_key.in_(wanted[start:start + 1000])))
        for key, record_id in rows:
            found.setdefault(key, []).append(record_id)
    unknown = [i for i, key in enumerate(keys) if key not in found]
    if unknown:
        raise ApiError(422, {f"keys.{i}": [f"not a failed or skipped record of run #{run.id}"]
                             for i in unknown[:NAMED_UNKNOWN]})
    return found


def _chosen(run_id: int) -> tuple[Session, JobRun, dict[str, Any]]:
    """The run as the caller may see it (404/403 before the body is read), and the checked body."""
    db = get_db()
    run = access.run_or_404(run_id)
    return db, run, load_body(ProblemChoice)


def _refused(exc: RetryRefused, keys: list[str], by_keys: bool) -> ApiError:
    """What the core refused, as the API says it: the choice of records (422) or the job's state (409)."""
    if not keys or len(keys) > problems.MAX_RETRY_KEYS:
        return ApiError(422, {"keys" if by_keys else "filter": [str(exc)]})
    return ApiError(409, {"state": [str(exc)]})


@bp.post("/runs/<int:run_id>/retry")
@operation("Retry a run's problems", tag="runs", body=ProblemChoice, response=RetryOut, status=202,
           errors=(400, 403, 404, 409, 422),
           description="Queues a new run of the job (trigger `retry`) that processes only the records asked for, as "
                       "“Retry” on the problems view does; its records tell which are fixed. " + CHOOSING + " Refused "
                       "(409, `state`) while the job is disabled or has a run queued or running; (422) when no "
                       "record matches or more than 10,000 keys would go (`filter`), or a key is not a problem of "
                       "this run (`keys.<index>`).")
def retry_problems(run_id: int):
    db, run, body = _chosen(run_id)
    if body["keys"] is not None:
        _records_of_keys(db, run, body["keys"])
        keys = list(dict.fromkeys(body["keys"]))
    else:
        keys = problems.keys_to_retry(db, run, None, _filter(body["filter"]))
    try:
        new_run = problems.retry(db, run, keys)
    except RetryRefused as exc:
        db.rollback()
        raise _refused(exc, keys, body["keys"] is not None) from None
    db.commit()
    response = dump(RetryOut, {**run_summary(new_run), "retry_of": run.id, "key_count": len(keys), "keys": keys}, 202)
    response.headers["Location"] = url_for("api.get_run", run_id=new_run.id)
    return response


@bp.post("/runs/<int:run_id>/dismiss")
@operation("Dismiss a run's problems", tag="runs", body=ProblemChoice, response=DismissOut,
           errors=(400, 403, 404, 422),
           description="Hides them from the open problems, as “Dismiss” on the problems view does; they stay in "
                       "the counts, in `show=dismissed`/`all` and in the CSV. " + CHOOSING + " A key that is not a "
                       "problem of this run is refused (422, `keys.<index>`); ones already dismissed are not "
                       "counted again.")
def dismiss_problems(run_id: int):
    db, run, body = _chosen(run_id)
    if body["keys"] is not None:
        ids = [i for found in _records_of_keys(db, run, body["keys"]).values() for i in found]
        count = problems.dismiss(db, run, current_user.name, ids)
    else:
        count = problems.dismiss(db, run, current_user.name, None, _filter(body["filter"]))
    db.commit()
    return dump(DismissOut, {"dismissed": count, "open": problems.open_count(db, run.id)})


@bp.get("/runs/<int:run_id>/records.csv")
@operation("A run's problems as CSV", tag="runs", query=ProblemFilterIn, media="text/csv", errors=(400, 403, 404),
           description="The problems view's download: a header (`record`, `outcome`, `stage`, `code`, `message`, "
                       "`dismissed_at`, `dismissed_by`) then every matching record, streamed; a cell starting like "
                       "a spreadsheet formula gets a leading `'`. Filtered as `GET /runs/{run_id}/records`.")
def records_csv(run_id: int):
    db, run = get_db(), access.run_or_404(run_id)
    args = load_query(ProblemFilterIn)
    response = Response(stream_with_context(problems.csv_lines(db, run, _filter(args))), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="run-{run.id}-problems.csv"'
    return response
