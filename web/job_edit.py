"""Changing a job from its page or the Connectors list: "Edit schedule" (the New Job form's
schedule inputs, handed to the core's ``edit_schedule``) and "Delete" (the core's
``delete_job``). Nested in the ``runs`` blueprint: ``runs.edit.schedule``, ``runs.edit.delete``."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.jobs.edit import delete_job, edit_schedule, next_runs, schedule_spec
from connectors.jobs.submit import SubmitError
from connectors.models import Job, User, utcnow
from connectors.schedules import ScheduleSpec, describe, zone

from . import access, joblist, jobform
from .db import get_db
from .filters import local_time
from .paramforms import choices_of

bp = Blueprint("edit", __name__)

EDIT_MODES = [("at", "Once, at a date and time"), ("recurring", "Recurring")]


class ScheduleForm(jobform.JobFormBase):
    """The New Job form's schedule inputs alone; "now" is not a schedule but the "Run now" button."""

    name = None
    notify_email = None
    run_mode = jobform.RadioField("Run", choices=choices_of(EDIT_MODES), default="recurring")


def safe_next(default: str) -> str:
    """Where a list's row action returns: the ``next`` it was posted with when that is an address
    of this site (never another host), else ``default``."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc \
            and "\\" not in target:
        return target
    return default


def list_url(job: Job) -> str:
    return url_for("connectors.event_jobs", event_code=job.event.event_code) if job.event else \
        url_for("connectors.account_jobs")


def initial_data(spec: ScheduleSpec | None, tz_name: str) -> dict[str, Any]:
    """The form filled with the stored schedule, its times as wall-clock times in its zone."""
    if spec is None or (spec.mode == "once" and spec.run_at is None):  # ran once, now: propose a window
        start = (utcnow().astimezone(zone(tz_name)) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        return {"run_mode": "recurring", "timezone": tz_name, "start_at": start.strftime(jobform.LOCAL_FORMAT),
                "end_at": (start + timedelta(days=30)).strftime(jobform.LOCAL_FORMAT)}
    tz = zone(spec.timezone)
    local = lambda moment: moment.astimezone(tz).strftime(jobform.LOCAL_FORMAT) if moment else ""  # noqa: E731
    if spec.mode == "once":
        return {"run_mode": "at", "run_at": local(spec.run_at), "timezone": spec.timezone}
    return {"run_mode": "recurring", "frequency": spec.frequency, "interval": str(spec.interval),
            "days_of_week": list(spec.days_of_week), "time_of_day": spec.time_of_day.strftime("%H:%M") if spec.time_of_day else "",
            "day_of_month": str(spec.day_of_month or ""), "start_at": local(spec.start_at), "end_at": local(spec.end_at),
            "timezone": spec.timezone, "max_runs": str(spec.max_runs or "")}


@bp.route("/jobs/<int:job_id>/schedule", methods=["GET", "POST"])
def schedule(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    spec = schedule_spec(job)
    tz = joblist.timezone_of(job)
    form = ScheduleForm(data=initial_data(spec, tz)) if request.method == "GET" else ScheduleForm()
    page = {"job": job, "form": form, "tz": tz, "current": joblist.schedule_words(job), "general_errors": [],
            "back": url_for("runs.job_detail", job_id=job.id)}
    if request.method == "GET":
        return render_template("runs/edit_schedule.html", **page)
    sched, problems = jobform.schedule(form)
    if not problems:
        try:
            spec = edit_schedule(db, job, sched, db.get(User, current_user.id))
        except SubmitError as exc:
            problems = exc.messages
    if problems:
        db.rollback()
        page["general_errors"] = jobform.place_errors(form, [], problems)
        return render_template("runs/edit_schedule.html", **page), 422
    db.commit()
    upcoming = next_runs(job, 1)
    flash(f"Schedule changed: {describe(spec)}. "
          + (f"Next run: {local_time(upcoming[0], tz)}." if upcoming else "The job is disabled: enable it to run it."),
          "success")
    return redirect(url_for("runs.job_detail", job_id=job.id))


@bp.post("/jobs/<int:job_id>/delete")
def delete(job_id: int):
    db = get_db()
    job = access.job_or_404(job_id)
    name, back = job.name, list_url(job)
    try:
        runs = delete_job(db, job, db.get(User, current_user.id))
    except SubmitError as exc:
        db.rollback()
        flash(f"“{name}” was not deleted: {' '.join(exc.messages['job'])}.", "error")
        return redirect(safe_next(url_for("runs.job_detail", job_id=job_id)))
    db.commit()
    flash(f"Job “{name}” deleted with its {runs} run{'s' if runs != 1 else ''}.", "success")
    target = safe_next(back)  # not the deleted job's own page
    gone = url_for("runs.job_detail", job_id=job_id)
    path = urlsplit(target).path
    return redirect(back if path == gone or path.startswith(gone + "/") else target)

