"""The job page (definition, runs, progress, problems, log), its actions, and the JSON status
that ``static/run.js`` polls every second while a run is queued or running."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.jobs.runs import request_cancel
from connectors.jobs.submit import SubmitError, set_enabled
from connectors.jobs.submit import run_now as core_run_now
from connectors.models import OUTCOMES, Job, JobRun, RunRecord

from . import access, joblist, paramforms
from .db import get_db, registry
from .filters import iso, local_time

bp = Blueprint("runs", __name__)

ACTIVE = ("queued", "running")
RUNS_SHOWN = 50
PROBLEMS_SHOWN = 500
LOG_TAIL = 200


def _timezone(job: Job) -> str:
    return job.event.timezone if job.event is not None else (job.schedule.timezone if job.schedule else "UTC")


def _problems(db: Session, run: JobRun) -> tuple[list[RunRecord], int]:
    where = (RunRecord.run_id == run.id,)
    total = db.scalar(select(func.count(RunRecord.id)).where(*where)) or 0
    rows = list(db.scalars(select(RunRecord).where(*where).order_by(RunRecord.id).limit(PROBLEMS_SHOWN)))
    return rows, total


def status_payload(run: JobRun, tz: str, problems: int) -> dict[str, Any]:
    """Everything the job page shows about one run, for the live update."""
    total = run.progress_total
    done = run.progress_done or 0
    counters = run.counters or {}
    return {
        "id": run.id, "job_id": run.job_id, "status": run.status, "status_label": joblist.words(run.status),
        "active": run.status in ACTIVE, "cancel_requested": bool(run.cancel_requested), "attempt": run.attempt,
        "progress": {"done": done, "total": total,
                     "percent": round(100 * done / total) if total else None},
        "counters": {outcome: int(counters.get(outcome, 0)) for outcome in OUTCOMES},
        "started_at": iso(run.started_at), "ended_at": iso(run.ended_at),
        "started_at_text": local_time(run.started_at, tz), "ended_at_text": local_time(run.ended_at, tz),
        "error": run.error, "problems": problems, "job_state": run.job.state,
        "log": [{"at": e.get("at"), "level": e.get("level"), "message": e.get("message")}
                for e in (run.log or [])[-LOG_TAIL:]],
    }


@bp.get("/jobs/<int:job_id>")
def job_detail(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    runs = list(db.scalars(select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.id.desc()).limit(RUNS_SHOWN)))
    selected = runs[0] if runs else None
    wanted = request.args.get("run", type=int)
    if wanted is not None:
        selected = db.scalar(select(JobRun).where(JobRun.id == wanted, JobRun.job_id == job.id))
        if selected is None:
            abort(404)
    problems, problem_count = _problems(db, selected) if selected else ([], 0)
    job_type = registry().job_types.get(job.job_type)
    app = registry().applications.get(job_type.application) if job_type else None
    tz = _timezone(job)
    return render_template(
        "runs/job.html", job=job, job_type=job_type, application=app, runs=runs, run=selected, tz=tz,
        params=paramforms.describe(job_type, job.params or {}), schedule=joblist.schedule_words(job),
        problems=problems, problem_count=problem_count, outcomes=OUTCOMES,
        status=status_payload(selected, tz, problem_count) if selected else None,
        has_active=any(r.status in ACTIVE for r in runs))


@bp.post("/jobs/<int:job_id>/run")
def run_now(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    try:
        run = core_run_now(db, job)
    except SubmitError as exc:
        flash(f"Not run: {' '.join(exc.messages['job'])}.", "error")
        return redirect(url_for(".job_detail", job_id=job.id))
    db.commit()
    flash(f"Run #{run.id} queued.", "success")
    return redirect(url_for(".job_detail", job_id=job.id, run=run.id))


@bp.post("/jobs/<int:job_id>/enable")
def enable(job_id: int):
    return _set_enabled(job_id, True)


@bp.post("/jobs/<int:job_id>/disable")
def disable(job_id: int):
    return _set_enabled(job_id, False)


def _set_enabled(job_id: int, enabled: bool):
    """A disabled job keeps its schedule but the scheduler skips it; the state follows the core's rule."""
    db = get_db()
    job = access.job_or_404(job_id)
    set_enabled(db, job, enabled)
    db.commit()
    flash(f"Job {'enabled' if enabled else 'disabled'}.", "success")
    return redirect(url_for(".job_detail", job_id=job.id))


@bp.post("/runs/<int:run_id>/cancel")
def cancel(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    if request_cancel(db, run):
        db.commit()
        flash("Run cancelled." if run.status == "cancelled" else "Cancellation requested: the run stops at its next check.",
              "success")
    else:
        flash("The run has already ended.", "info")
    return redirect(url_for(".job_detail", job_id=run.job_id, run=run.id))


@bp.get("/runs/<int:run_id>/status.json")
def run_status(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    count = db.scalar(select(func.count(RunRecord.id)).where(RunRecord.run_id == run.id)) or 0
    payload = status_payload(run, _timezone(run.job), count)
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response
