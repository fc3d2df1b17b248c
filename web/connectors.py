"""The Connectors pages (certain.md §3.1, §5.5, §5.6): event level for event builders and
administrators, account level for administrators only."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.jobs.submit import SubmitError, clear_ended_jobs, event_choices, submit
from connectors.models import Account, Event, User, utcnow

from . import access, joblist, jobform, paramforms
from .auth import admin_required
from .db import get_db, registry

bp = Blueprint("connectors", __name__)


@bp.get("/")
def home():
    reg = registry()
    return render_template("home.html", events=access.visible_events(),
                           load_errors=reg.load_errors if current_user.is_administrator else [])


@bp.get("/events/<event_code>/connectors")
def event_jobs(event_code: str):
    event = access.event_or_404(event_code)
    listing, code = _listing(event, "event")
    return render_template("connectors/event.html", event=event, **listing), code


@bp.post("/events/<event_code>/connectors/clear")
def clear_event_jobs(event_code: str):
    event = access.event_or_404(event_code)
    _clear(event)
    return redirect(url_for(".event_jobs", event_code=event.event_code))


@bp.route("/events/<event_code>/connectors/new", methods=["GET", "POST"])
def new_event_job(event_code: str):
    return _new_job(access.event_or_404(event_code))


@bp.get("/account/connectors")
@admin_required
def account_jobs():
    db, reg = get_db(), registry()
    events = access.visible_events()
    chosen = request.args.get("event") or ""
    event = next((e for e in events if e.event_code == chosen), None)
    if chosen and event is None:
        abort(404)
    listing, code = _listing(None, "account")
    event_page = joblist.search(db, reg, joblist.scope_condition(current_user.account_id, event.id),
                                joblist.JobFilter()) if event else None
    return render_template("connectors/account.html", events=events, event=event, event_page=event_page,
                           **listing), code


def _listing(event: Event | None, scope: str) -> tuple[dict, int]:
    """The filter form and the page of jobs it asks for (400, with each bad filter named, when
    the query string is not one the form offers)."""
    db, reg = get_db(), registry()
    form = joblist.filter_form(request.args, reg, scope)
    if not form.validate():
        return {"form": form, "page": None, "page_url": _page_url, "sort_url": _sort_url}, 400
    page = joblist.search(db, reg, joblist.scope_condition(current_user.account_id, event.id if event else None),
                          joblist.chosen(form), page=form.page.data or 1)
    return {"form": form, "page": page, "page_url": _page_url, "sort_url": _sort_url,
            "filtered": any(request.args.get(k) for k in ("state", "application", "job_type"))}, 200


def _page_url(**changes: Any) -> str:
    """This list's address with the current filters, sort and page, and ``changes`` applied."""
    args = {k: v for k, v in request.args.items() if k in (*joblist.FILTER_ARGS, "page", "event") and v}
    args.update(changes)
    return url_for(request.endpoint, **(request.view_args or {}), **{k: v for k, v in args.items() if v})


def _sort_url(key: str) -> str:
    """A column header's link: sort by it, or flip the direction when it is the current sort."""
    current, direction = request.args.get("sort") or "submitted", request.args.get("direction") or "desc"
    flipped = {"asc": "desc", "desc": "asc"}.get(direction, "asc")
    return _page_url(sort=key, direction=flipped if key == current else joblist.FIRST_DIRECTION[key], page=None)


@bp.post("/account/connectors/clear")
@admin_required
def clear_account_jobs():
    _clear(None)
    return redirect(url_for(".account_jobs"))


@bp.route("/account/connectors/new", methods=["GET", "POST"])
@admin_required
def new_account_job():
    return _new_job(None)


def _clear(event: Event | None) -> None:
    """"Clear All Jobs": the core deletes only this scope's ended jobs, never active ones."""
    db = get_db()
    removed = clear_ended_jobs(db, current_user.account_id, event.id if event else None)
    db.commit()
    where = f"event {event.event_code}" if event else "this account"
    flash(f"Removed {removed} ended job{'s' if removed != 1 else ''} of {where}." if removed
          else f"No ended jobs to remove in {where}.", "success" if removed else "info")


def _new_job(event: Event | None):
    """Step 1 picks an application and a job type (a GET form); step 2 is the job type's form,
    posted back to the same address and handed to the core's ``submit``."""
    db, reg = get_db(), registry()
    scope = "event" if event else "account"
    applications = access.available_applications(reg, event)
    app_name = request.args.get("application") or (applications[0] if len(applications) == 1 else "")
    if app_name not in applications:
        app_name = ""
    job_types = sorted(reg.job_types_for(app_name, scope), key=lambda jt: jt.label.lower()) if app_name else []
    wanted = request.args.get("job_type") or (job_types[0].key if len(job_types) == 1 else "")
    job_type = next((jt for jt in job_types if jt.key == wanted), None)
    page = {"event": event, "scope": scope, "applications": [(n, reg.applications[n].label) for n in applications],
            "application": app_name, "job_types": job_types, "job_type": job_type, "form": None, "params": [],
            "general_errors": []}
    if job_type is None:
        if request.method == "POST":
            abort(400)
        return render_template("connectors/new_job.html", **page)

    account = db.get(Account, current_user.account_id)
    form_class, params = jobform.build(job_type, event_choices(db, event) if event else {})
    form = form_class(data=jobform.defaults(job_type, event, account.account_code, utcnow()))
    page.update(form=form, params=params)
    if request.method == "GET":
        return render_template("connectors/new_job.html", **page)

    sched, problems = jobform.schedule(form)
    problems.update(jobform.local_errors(form))
    try:
        job = submit(db, reg, account=account, event=event, job_type_key=job_type.key,
                     params=paramforms.values(form, params), schedule=sched,
                     submitted_by=db.get(User, current_user.id), name=form.name.data,
                     notify_email=(form.notify_email.data or "").strip() or None, via="web")
    except SubmitError as exc:
        for key, reasons in exc.messages.items():
            problems[key] = [*problems.get(key, []), *reasons]
    else:
        if not problems:
            db.commit()
            flash(f"Job “{job.name}” submitted.", "success")
            return redirect(url_for("runs.job_detail", job_id=job.id))
    db.rollback()  # nothing of a rejected submission is kept
    page["general_errors"] = jobform.place_errors(form, params, problems)
    return render_template("connectors/new_job.html", **page), 422
