"""The job page (definition, validation, runs and their chart, progress, problems, log,
deliveries), its actions, and the JSON status that ``static/run.js`` polls every second while a
run is queued or running. The problems view (``problems``) is nested in this blueprint."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.jobs import delivery_decisions
from connectors.jobs import problems as core_problems
from connectors.jobs.edit import next_runs
from connectors.jobs.progress import duration_words, estimate, rate_words
from connectors.jobs.runs import request_cancel
from connectors.jobs.submit import SubmitError, set_enabled
from connectors.jobs.submit import run_now as core_run_now
from connectors.models import OUTCOMES, Delivery, Job, JobRun, utcnow

from . import access, job_edit, joblist, paramforms, problems, runchart
from .converters import id_from
from .db import get_db, registry
from .filters import iso, local_time

bp = Blueprint("runs", __name__)
bp.register_blueprint(problems.bp)
bp.register_blueprint(job_edit.bp)

ACTIVE = ("queued", "running")
RUNS_SHOWN = 50
PROBLEMS_SHOWN = 50
LOG_TAIL = 200
NEXT_RUNS_SHOWN = 5
DECISION_LABELS = {"retry": "Retry", "mark_sent": "Mark as sent", "mark_not_sent": "Mark as not sent"}


def _timezone(job: Job) -> str:
    return joblist.timezone_of(job)


def _problems(db: Session, run: JobRun) -> tuple[list, int]:
    """The run's first open problems (the problems view has them all) and how many are open."""
    shown = core_problems.page(db, run, core_problems.ProblemFilter(), 1, PROBLEMS_SHOWN)
    return shown.records, shown.total


def status_payload(run: JobRun, tz: str, problems: int) -> dict[str, Any]:
    """Everything the job page shows about one run, for the live update."""
    done = run.progress_done or 0
    counters = run.counters or {}
    p = estimate(done, run.progress_total, run.started_at, utcnow(), run.ended_at)
    return {
        "id": run.id, "job_id": run.job_id, "status": run.status, "status_label": joblist.words(run.status),
        "active": run.status in ACTIVE, "cancel_requested": bool(run.cancel_requested), "attempt": run.attempt,
        "progress": {"done": done, "total": p.total, "percent": p.percent, "per_second": p.per_second,
                     "seconds_left": p.seconds_left, "rate_text": rate_words(p.per_second),
                     "left_text": _left_words(run, p.seconds_left)},
        "counters": {outcome: int(counters.get(outcome, 0)) for outcome in OUTCOMES},
        "started_at": iso(run.started_at), "ended_at": iso(run.ended_at),
        "started_at_text": local_time(run.started_at, tz), "ended_at_text": local_time(run.ended_at, tz),
        "error": run.error, "problems": problems, "job_state": run.job.state,
        "log": [{"at": e.get("at"), "level": e.get("level"), "message": e.get("message")}
                for e in (run.log or [])[-LOG_TAIL:]],
    }


def _left_words(run: JobRun, seconds_left: int | None) -> str:
    if run.status not in ACTIVE:
        return "—"
    if run.progress_total is None and run.status == "running":
        return "not known: the job has not reported its total"
    return duration_words(seconds_left)


@bp.get("/jobs/<int:job_id>")
def job_detail(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    runs = list(db.scalars(select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.id.desc()).limit(RUNS_SHOWN)))
    selected = runs[0] if runs else None
    wanted = request.args.get("run", type=int)
    if wanted is not None:  # a number past the database's integer is no run of this job either
        selected = db.scalar(select(JobRun).where(JobRun.id == wanted, JobRun.job_id == job.id)) \
            if id_from(wanted) else None
        if selected is None:
            abort(404)
    problems, problem_count = _problems(db, selected) if selected else ([], 0)
    job_type = registry().job_types.get(job.job_type)
    app = registry().applications.get(job_type.application) if job_type else None
    tz = _timezone(job)
    triggered = bool(job_type and job_type.triggers)
    return render_template(
        "runs/job.html", job=job, job_type=job_type, application=app, runs=runs, run=selected, tz=tz,
        params=paramforms.describe(job_type, job.params or {}), schedule=joblist.schedule_words(job),
        next_runs=next_runs(job, NEXT_RUNS_SHOWN),
        problems=problems, problem_count=problem_count, outcomes=OUTCOMES,
        status=status_payload(selected, tz, problem_count) if selected else None,
        has_active=any(r.status in ACTIVE for r in runs), chart=runchart.chart(runs, joblist.words),
        retried=_retry_facts(db, selected) if selected else None,
        delivery_states=delivery_decisions.states_of(db, job.id) if triggered else None,
        deliveries=delivery_decisions.needing_decision(db, job.id) if triggered else [],
        decisions=delivery_decisions.DECISIONS, decision_labels=DECISION_LABELS)


def _retry_facts(db: Session, run: JobRun) -> dict[str, Any] | None:
    """For a retry run: the run it retried and, once it ended, which asked-for keys are fixed."""
    if run.retry_of_id is None and not run.retry_keys:
        return None
    return {"of": run.retry_of_id, "asked": len(run.retry_keys or []),
            "outcome": core_problems.retry_outcome(db, run)}


@bp.post("/jobs/<int:job_id>/run")
def run_now(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    try:
        run = core_run_now(db, job)
    except SubmitError as exc:
        flash(f"“{job.name}” not run: {' '.join(exc.messages['job'])}.", "error")
        return redirect(job_edit.safe_next(url_for(".job_detail", job_id=job.id)))
    db.commit()
    flash(f"Run #{run.id} of “{job.name}” queued.", "success")
    return redirect(job_edit.safe_next(url_for(".job_detail", job_id=job.id, run=run.id)))


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
    flash(f"Job “{job.name}” {'enabled' if enabled else 'disabled'}.", "success")
    return redirect(job_edit.safe_next(url_for(".job_detail", job_id=job.id)))


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
    return redirect(job_edit.safe_next(url_for(".job_detail", job_id=run.job_id, run=run.id)))


@bp.get("/runs/<int:run_id>/status.json")
def run_status(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    count = core_problems.open_count(db, run.id)
    payload = status_payload(run, _timezone(run.job), count)
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/jobs/<int:job_id>/deliveries/<int:delivery_id>")
def decide_delivery(job_id: int, delivery_id: int):
    """An administrator's decision on a parked, uncertain or failed delivery (see ``DECISIONS``)."""
    db = get_db()
    job = access.job_or_404(job_id)
    access.require_admin()
    delivery = db.scalar(select(Delivery).where(Delivery.id == delivery_id, Delivery.job_id == job.id))
    if delivery is None:
        abort(404)
    decision = request.form.get("decision", "")
    if decision not in DECISION_LABELS:
        abort(400)
    if delivery_decisions.decide(db, delivery, decision, current_user.name, request.form.get("state") or None):
        db.commit()
        flash(f"Delivery {delivery_id}: {DECISION_LABELS[decision].lower()} done.", "success")
    else:
        db.rollback()
        flash(f"Delivery {delivery_id} is {delivery.state} now: “{DECISION_LABELS[decision]}” does not apply.", "info")
    return redirect(url_for(".job_detail", job_id=job.id) + "#deliveries")
