"""The problems view of a run: its failed and skipped records, filtered and paged, as CSV, and the
"retry" / "dismiss" actions (``connectors.jobs.problems`` does the work). Nested in the runs
blueprint: whoever may see the run (``access.run_or_404``) may act on its problems."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from connectors.jobs import problems as core
from connectors.jobs.problems import ProblemFilter, RetryRefused

from . import access
from .converters import MAX_ID, id_from
from .db import get_db
from .joblist import timezone_of

bp = Blueprint("problems", __name__)
PER_PAGE = 50


@bp.get("/runs/<int:run_id>/problems")
def view(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    flt = ProblemFilter.from_args(request.args)
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_ID)  # past the end: the last page
    shown = core.page(db, run, flt, page, PER_PAGE)
    return render_template("runs/problems.html", run=run, job=run.job, flt=flt, shown=shown,
                           choices=core.choices(db, run), open_count=core.open_count(db, run.id),
                           outcomes=core.PROBLEM_OUTCOMES, tz=timezone_of(run.job))


@bp.get("/runs/<int:run_id>/problems.csv")
def download(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    flt = ProblemFilter.from_args(request.args)
    response = Response(stream_with_context(core.csv_lines(db, run, flt)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="run-{run.id}-problems.csv"'
    return response


def _chosen(run) -> tuple[list[int] | None, ProblemFilter]:
    """The records a form acts on: one row's button (``only``), every open one matching the filter
    (``all``), or the ticked rows (``record_id``)."""
    flt = ProblemFilter.from_args(request.form)
    if request.form.get("only"):
        return [id_from(request.form["only"]) or 0], flt
    if request.form.get("all"):
        return None, flt
    return [n for n in map(id_from, request.form.getlist("record_id")) if n is not None], flt


def _back(run, flt: ProblemFilter):
    return redirect(url_for(".view", run_id=run.id, **flt.as_args()))


@bp.post("/runs/<int:run_id>/problems/retry")
def retry(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    ids, flt = _chosen(run)
    keys = core.keys_to_retry(db, run, ids, flt if ids is None else ProblemFilter(show="all"))
    try:
        new_run = core.retry(db, run, keys)
    except RetryRefused as exc:
        db.rollback()
        flash(f"Not retried: {exc}.", "error")
        return _back(run, flt)
    db.commit()
    flash(f"Run #{new_run.id} queued to retry {len(keys)} record{'s' if len(keys) != 1 else ''}: it processes only "
          f"{'these records' if len(keys) != 1 else 'this record'}, and its page tells which are fixed.", "success")
    return redirect(url_for("runs.job_detail", job_id=run.job_id, run=new_run.id))


@bp.post("/runs/<int:run_id>/problems/dismiss")
def dismiss(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    ids, flt = _chosen(run)
    count = core.dismiss(db, run, current_user.name, ids, flt if ids is None else None)
    db.commit()
    flash(f"Dismissed {count} record{'s' if count != 1 else ''}." if count else "Nothing to dismiss: choose records first.",
          "success" if count else "info")
    return _back(run, flt)
