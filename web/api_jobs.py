"""API: jobs and their runs — list, submit, edit the schedule, run now, enable / disable, cancel,
delete, clear —
through the core functions the Connectors and job pages call, scoped by ``access`` like them."""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.jobs.problems import open_count
from connectors.jobs.progress import estimate
from connectors.jobs.runs import request_cancel
from connectors.jobs.edit import delete_job, edit_schedule, next_runs
from connectors.jobs.submit import SubmitError, clear_ended_jobs, run_now, set_enabled, submit
from connectors.models import Account, Event, Job, JobRun, User, utcnow

from . import access, joblist
from .api import bp
from .api_schemas import (
    CancelOut, ClearJobs, EventList, JobCreated, JobList, JobOut, JobPatch, JobQuery, JobSubmit, Removed, RunList,
    RunOut, RunQuery, RunSummary,
)
from .api_support import ApiError, dump, load_body, load_query, operation, page_info
from .db import get_db, registry

LOG_TAIL = 200


def _event(code: str | None) -> Event | None:
    """The event named by ``code`` as the caller may see it (404 otherwise); None for no code."""
    return access.event_or_404(code) if code else None


def run_summary(run: JobRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "status": run.status, "trigger": run.trigger, "counters": dict(run.counters or {}),
            "queued_at": run.queued_at, "started_at": run.started_at, "ended_at": run.ended_at}


def job_view(job: Job, last: JobRun | None) -> dict[str, Any]:
    jt = registry().job_types.get(job.job_type)
    return {"id": job.id, "name": job.name, "event": job.event.event_code if job.event else None,
            "application": jt.application if jt else job.job_type.split(".", 1)[0], "job_type": job.job_type,
            "state": job.state, "enabled": bool(job.enabled), "params": job.params or {},
            "schedule": joblist.schedule_words(job),
            "next_run_at": job.schedule.next_run_at if job.schedule and job.enabled else None,
            "next_runs": next_runs(job),
            "validation_state": job.validation_state, "submitted_at": job.submitted_at,
            "submitted_via": job.submitted_via, "last_run": run_summary(last)}


def run_view(db: Session, run: JobRun) -> dict[str, Any]:
    """A run with its counters, progress (the core's estimate, as on the job page) and log tail."""
    done = run.progress_done or 0
    p = estimate(done, run.progress_total, run.started_at, utcnow(), run.ended_at)
    return {**run_summary(run), "job_id": run.job_id, "attempt": run.attempt,
            "cancel_requested": bool(run.cancel_requested), "error": run.error,
            "progress": {"done": done, "total": p.total, "percent": p.percent, "per_second": p.per_second,
                         "seconds_left": p.seconds_left},
            "problems": open_count(db, run.id), "retry_of": run.retry_of_id,
            "retry_keys": list(run.retry_keys) if run.retry_keys is not None else None,
            "log": [{"at": e.get("at"), "level": e.get("level"), "message": e.get("message")}
                    for e in (run.log or [])[-LOG_TAIL:]]}


def _user() -> User:
    return get_db().get(User, current_user.id)


def _submit_error(exc: SubmitError, status: int = 422) -> ApiError:
    return ApiError(status, exc.messages)


@bp.get("/events")
@operation("List the events you may see", tag="events", response=EventList)
def list_events():
    return dump(EventList, {"events": [{"code": e.event_code, "name": e.name, "timezone": e.timezone}
                                       for e in access.visible_events()]})


@bp.get("/jobs")
@operation("List jobs", tag="jobs", query=JobQuery, response=JobList, errors=(400, 403, 404),
           description="Filtered, sorted and paged as on the Connectors pages (default: newest first). Event "
                       "builders see the jobs of their events only; `scope=account` (account-level jobs) is for "
                       "administrators.")
def list_jobs():
    db, args = get_db(), load_query(JobQuery)
    event = _event(args.get("event"))
    if args.get("scope") == "account":
        access.require_admin()
    where = [access.visible_jobs_condition(current_user)]
    if event is not None:
        where.append(Job.event_id == event.id)
    elif args.get("scope") == "account":
        where.append(Job.event_id.is_(None))
    elif args.get("scope") == "event" or not current_user.is_administrator:
        where.append(Job.event_id.is_not(None))
    wanted = joblist.JobFilter(**{k: args.get(k) or "" for k in ("state", "application", "job_type")},
                               sort=args["sort"], direction=args["direction"])
    found = joblist.search(db, registry(), where, wanted, page=args["page"], per_page=args["per_page"], clamp=False)
    return dump(JobList, {"jobs": [job_view(row.job, row.last_run) for row in found.rows],
                          "page": page_info(found.page, found.per_page, found.total)})


@bp.post("/jobs")
@operation("Submit a job", tag="jobs", body=JobSubmit, response=JobCreated, status=201, errors=(400, 403, 404, 422),
           description="Checked by the job type's parameter schema, as the New Job form is; bad fields come back "
                       "named (`params.<field>`, `schedule.<field>`). Without `event`: an account-level job "
                       "(administrators).")
def create_job():
    db, body = get_db(), load_body(JobSubmit)
    event = _event(body["event"])
    if event is None:
        access.require_admin()
    try:
        job = submit(db, registry(), account=db.get(Account, current_user.account_id), event=event,
                     job_type_key=body["job_type"], params=body["params"], schedule=body["schedule"],
                     submitted_by=_user(), name=body["name"], notify_email=body["notify_email"], via="api")
    except SubmitError as exc:
        db.rollback()
        raise _submit_error(exc) from None
    db.commit()
    run = db.scalar(select(JobRun).where(JobRun.job_id == job.id).order_by(JobRun.id.desc()).limit(1))
    return dump(JobCreated, {"job": job_view(job, run), "run": run_summary(run)}, 201)


@bp.get("/jobs/<int:job_id>")
@operation("One job", tag="jobs", response=JobOut, errors=(403, 404))
def get_job(job_id: int):
    job = access.job_or_404(job_id)
    return dump(JobOut, job_view(job, joblist.last_runs(get_db(), [job.id]).get(job.id)))


@bp.patch("/jobs/<int:job_id>")
@operation("Edit a job's schedule", tag="jobs", body=JobPatch, response=JobOut, errors=(400, 403, 404, 422),
           description="Replaces the schedule and works out the next run again from now, as “Edit schedule” on "
                       "the job page does. Refused (422, `schedule.<field>` with the reason) when invalid, when a "
                       "once schedule is not in the future, or when no run is left after now.")
def patch_job(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    body = load_body(JobPatch)
    try:
        edit_schedule(db, job, body["schedule"], _user())
    except SubmitError as exc:
        db.rollback()
        raise _submit_error(exc) from None
    db.commit()
    return dump(JobOut, job_view(job, joblist.last_runs(db, [job.id]).get(job.id)))


@bp.delete("/jobs/<int:job_id>")
@operation("Delete a job", tag="jobs", status=204, errors=(403, 404, 409),
           description="With its schedule, runs, records and deliveries; refused (409) while a run of it is "
                       "queued or running: cancel it first.")
def remove_job(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    try:
        delete_job(db, job, _user())
    except SubmitError as exc:
        db.rollback()
        raise _submit_error(exc, 409) from None
    db.commit()
    return "", 204


@bp.post("/jobs/<int:job_id>/run")
@operation("Run a job now", tag="jobs", response=RunSummary, status=201, errors=(403, 404, 409),
           description="An extra run outside the schedule; refused (409) while the job is disabled or a run of it "
                       "is queued or running.")
def run_job(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    try:
        run = run_now(db, job)
    except SubmitError as exc:
        db.rollback()
        raise _submit_error(exc, 409) from None
    db.commit()
    return dump(RunSummary, run_summary(run), 201)


def _set_enabled(job_id: int, enabled: bool):
    db = get_db()
    job = access.job_or_404(job_id)
    set_enabled(db, job, enabled)
    db.commit()
    return dump(JobOut, job_view(job, joblist.last_runs(db, [job.id]).get(job.id)))


@bp.post("/jobs/<int:job_id>/enable")
@operation("Enable a job", tag="jobs", response=JobOut, errors=(403, 404),
           description="A job whose parameters were refused is checked again.")
def enable_job(job_id: int):
    return _set_enabled(job_id, True)


@bp.post("/jobs/<int:job_id>/disable")
@operation("Disable a job", tag="jobs", response=JobOut, errors=(403, 404),
           description="It keeps its schedule; the scheduler skips it.")
def disable_job(job_id: int):
    return _set_enabled(job_id, False)


@bp.post("/jobs/clear")
@operation("Clear ended jobs", tag="jobs", body=ClearJobs, response=Removed, errors=(400, 403, 404, 422),
           description="Deletes the scope's ended jobs (never scheduled, running or disabled ones), as "
                       "“Clear All Jobs” does.")
def clear_jobs():
    db, body = get_db(), load_body(ClearJobs)
    event = _event(body["event"])
    if event is None:
        access.require_admin()
    removed = clear_ended_jobs(db, current_user.account_id, event.id if event else None)
    db.commit()
    return dump(Removed, {"removed": removed})


@bp.get("/runs")
@operation("List runs", tag="runs", query=RunQuery, response=RunList, errors=(400, 403, 404),
           description="Newest first, of the jobs you may see.")
def list_runs():
    db, args = get_db(), load_query(RunQuery)
    where = [access.visible_jobs_condition(current_user)]
    if not current_user.is_administrator:
        where.append(Job.event_id.is_not(None))
    if args.get("job_id") is not None:
        where.append(JobRun.job_id == access.job_or_404(args["job_id"]).id)
    event = _event(args.get("event"))
    if event is not None:
        where.append(Job.event_id == event.id)
    if args.get("status"):
        where.append(JobRun.status == args["status"])
    base = select(JobRun).join(Job, Job.id == JobRun.job_id).where(*where)
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    page, per_page = args["page"], args["per_page"]
    runs = db.scalars(base.order_by(JobRun.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return dump(RunList, {"runs": [run_summary(r) for r in runs], "page": page_info(page, per_page, total)})


@bp.get("/runs/<int:run_id>")
@operation("One run: counters, progress, problems count, log", tag="runs", response=RunOut, errors=(403, 404))
def get_run(run_id: int):
    return dump(RunOut, run_view(get_db(), access.run_or_404(run_id)))


@bp.post("/runs/<int:run_id>/cancel")
@operation("Cancel a run", tag="runs", response=CancelOut, errors=(403, 404),
           description="A queued run is cancelled at once; a running one is asked to stop at its next check.")
def cancel_run(run_id: int):
    db = get_db()
    run = access.run_or_404(run_id)
    cancelled = request_cancel(db, run)
    db.commit()
    return dump(CancelOut, {"cancelled": cancelled, "run": run_view(db, run)})
