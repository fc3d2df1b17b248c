"""Scoped look-ups: the only way views fetch events, jobs and runs by id.

The rule is ``connectors.event_access``'s: administrators see every event of their account,
event builders only the events they are assigned to, nobody another account's. Every look-up
filters in its query, so an event (or its job, run or registration) a user may not see is
simply not found: 404, the same answer as for another account's, revealing nothing.
Account-level pages and jobs are for administrators only: 403 for anyone else.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from connectors.event_access import visible_events_condition, visible_jobs_condition
from connectors.event_access import visible_events as core_visible_events
from connectors.models import Event, Job, JobRun, PluginConfig
from connectors.plugins import PluginManager

from .db import get_db


def require_admin() -> None:
    if not current_user.is_administrator:
        abort(403)


def visible_events() -> list[Event]:
    """The events the current user may see (all of the account's for administrators)."""
    return core_visible_events(get_db(), current_user)


def event_or_404(event_code: str) -> Event:
    event = get_db().scalar(select(Event).where(visible_events_condition(current_user),
                                                Event.event_code == event_code))
    if event is None:
        abort(404)
    return event


def job_or_404(job_id: int) -> Job:
    job = get_db().scalar(select(Job).where(Job.id == job_id, visible_jobs_condition(current_user)))
    if job is None:
        abort(404)
    if job.event_id is None:
        require_admin()
    return job


def run_or_404(run_id: int) -> JobRun:
    run = get_db().scalar(select(JobRun).join(Job, Job.id == JobRun.job_id)
                          .where(JobRun.id == run_id, visible_jobs_condition(current_user)))
    if run is None:
        abort(404)
    if run.job.event_id is None:
        require_admin()
    return run


def available_applications(registry: PluginManager, event: Event | None) -> list[str]:
    """Applications a job may be submitted for: installed, configured and enabled in this account,
    with job types of this page's scope, and (at event level) enabled for the event. An event with
    no application ticked restricts nothing, the rule the core's ``submit`` applies."""
    configured = set(get_db().scalars(select(PluginConfig.application).where(
        PluginConfig.account_id == current_user.account_id, PluginConfig.enabled.is_(True))))
    scope = "event" if event is not None else "account"
    names = [name for name in registry.applications if name in configured and registry.job_types_for(name, scope)]
    if event is not None and event.enabled_applications:
        names = [name for name in names if name in event.enabled_applications]
    return sorted(names, key=lambda name: registry.applications[name].label.lower())
