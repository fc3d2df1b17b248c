"""Rows of the job list (certain.md §5.5): filtered, sorted and paged in SQL, with a fixed number
of queries per page whatever the number of jobs. The Connectors pages and ``GET /api/v1/jobs``
both list through ``search``, so they filter, sort and page alike."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from flask_wtf import FlaskForm
from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from connectors.jobs.edit import ACTIVE, schedule_spec
from connectors.models import JOB_STATES, Job, JobRun, Schedule
from connectors.plugins import PluginManager
from connectors.schedules import describe

from .paramforms import choices_of
from .reglist import DIRECTIONS, _one_of_choices

PAGE_SIZE = 25
#: Sort keys, what the page calls them, and the direction a first click asks for.
SORTS = {"submitted": "Submitted", "name": "Job name", "job_type": "Job type", "status": "Status",
         "next_run": "Next run"}
FIRST_DIRECTION = {"submitted": "desc", "name": "asc", "job_type": "asc", "status": "asc", "next_run": "asc"}
#: The list's query-string parameters (the API takes the same names, plus ``per_page``).
FILTER_ARGS = ("state", "application", "job_type", "sort", "direction")


@dataclass(frozen=True)
class JobRow:
    job: Job
    application: str
    job_type: str
    status: str  # Scheduled | Running | Ended | Disabled
    result: str | None  # the last run's status in words
    last_run: JobRun | None
    next_run_at: datetime | None
    schedule: str

    def count(self, outcome: str) -> int | None:
        return None if self.last_run is None else int((self.last_run.counters or {}).get(outcome, 0))

    @property
    def active(self) -> bool:
        """A run of it is queued or running: it can be cancelled, not run again nor deleted."""
        return self.last_run is not None and self.last_run.status in ACTIVE


@dataclass(frozen=True)
class JobFilter:
    state: str = ""
    application: str = ""
    job_type: str = ""
    sort: str = "submitted"
    direction: str = "desc"


@dataclass(frozen=True)
class JobPage:
    rows: list[JobRow]
    total: int  # jobs that match the filters
    page: int
    pages: int
    per_page: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def words(status: str | None) -> str:
    return (status or "").replace("_", " ").capitalize()


def timezone_of(job: Job) -> str:
    """The zone a job's times are shown in: its event's, else its schedule's."""
    return job.event.timezone if job.event is not None else (job.schedule.timezone if job.schedule else "UTC")


def schedule_words(job: Job) -> str:
    """"Every weekday at 02:00 Europe/Paris, from 1 May 2026 until 30 June 2026"."""
    s = job.schedule
    if s is None:
        return "—"
    spec = schedule_spec(job)
    return describe(spec) if spec is not None else (s.rrule or s.mode)  # an unreadable row must not break the page


def scope_condition(account_id: int, event_id: int | None) -> list[ColumnElement[bool]]:
    """A Connectors page's jobs: one event's, or the account-level ones."""
    scope = Job.event_id == event_id if event_id is not None else Job.event_id.is_(None)
    return [Job.account_id == account_id, scope]


def _conditions(registry: PluginManager, f: JobFilter) -> list[ColumnElement[bool]]:
    where = []
    if f.state:
        where.append(Job.state == f.state)
    if f.application:  # an uninstalled job type still belongs to the application its key names
        keys = [jt.key for jt in registry.job_types_for(f.application)]
        where.append(or_(Job.job_type.in_(keys), Job.job_type.startswith(f.application + ".", autoescape=True)))
    if f.job_type:
        where.append(Job.job_type == f.job_type)
    return where


def _order(registry: PluginManager, f: JobFilter) -> list:
    desc = f.direction == "desc"
    if f.sort == "next_run":  # a disabled or finished job has no next run: always last
        nxt = case((Job.enabled.is_(True), Schedule.next_run_at), else_=None)
        return [nxt.is_(None), nxt.desc() if desc else nxt.asc(), Job.id.desc() if desc else Job.id.asc()]
    labels = {key: jt.label.lower() for key, jt in registry.job_types.items()}
    columns = {"name": [func.lower(Job.name)], "status": [Job.state],
               "job_type": [case(labels, value=Job.job_type, else_=Job.job_type) if labels else Job.job_type],
               "submitted": [Job.submitted_at]}.get(f.sort, [Job.submitted_at])
    return [c.desc() if desc else c.asc() for c in [*columns, Job.id]]  # the id keeps pages stable


def search(db: Session, registry: PluginManager, where: list[ColumnElement[bool]], f: JobFilter, page: int = 1,
           per_page: int = PAGE_SIZE, clamp: bool = True) -> JobPage:
    """One page of the jobs matching ``where`` (the caller's scope) and the filters. ``clamp``: a
    page past the end shows the last (the pages); the API answers it empty instead."""
    conditions = [*where, *_conditions(registry, f)]
    total = db.scalar(select(func.count(Job.id)).where(*conditions)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages) if clamp else max(page, 1)
    jobs = list(db.scalars(
        select(Job).outerjoin(Schedule, Schedule.job_id == Job.id).where(*conditions)
        .options(selectinload(Job.schedule), selectinload(Job.submitted_by), selectinload(Job.event))
        .order_by(*_order(registry, f)).limit(per_page).offset((page - 1) * per_page)))
    return JobPage(rows(db, registry, jobs), total, page, pages, per_page)


def last_runs(db: Session, job_ids: list[int]) -> dict[int, JobRun]:
    if not job_ids:
        return {}
    newest = select(func.max(JobRun.id)).where(JobRun.job_id.in_(job_ids)).group_by(JobRun.job_id)
    runs = db.scalars(select(JobRun).where(JobRun.id.in_(newest)).options(defer(JobRun.log), defer(JobRun.checkpoint)))
    return {run.job_id: run for run in runs}


def rows(db: Session, registry: PluginManager, jobs: list[Job]) -> list[JobRow]:
    latest = last_runs(db, [job.id for job in jobs])
    apps, types = registry.applications, registry.job_types
    out = []
    for job in jobs:
        jt = types.get(job.job_type)
        app_name = jt.application if jt else job.job_type.split(".", 1)[0]
        app = apps.get(app_name)
        run = latest.get(job.id)
        out.append(JobRow(
            job=job, application=app.label if app else app_name, job_type=jt.label if jt else job.job_type,
            status=words(job.state), result=words(run.status) if run else None, last_run=run,
            next_run_at=job.schedule.next_run_at if job.schedule and job.enabled else None,
            schedule=schedule_words(job)))
    return out


# --- the pages' filter form ----------------------------------------------------------------------

class FilterForm(FlaskForm):
    """The list's GET form: read from the query string, so no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    state = SelectField("Status", choices=choices_of([("", "Any status"), *((s, words(s)) for s in JOB_STATES)]),
                        validate_choice=False, validators=[Optional(), _one_of_choices("one of: " + ", ".join(JOB_STATES))])
    application = SelectField("Application", validate_choice=False,
                              validators=[Optional(), _one_of_choices("an installed application")])
    job_type = SelectField("Job type", validate_choice=False,
                           validators=[Optional(), _one_of_choices("a job type of this page")])
    sort = SelectField("Sort by", choices=choices_of(SORTS.items()), default="submitted", validate_choice=False,
                       validators=[_one_of_choices("one of: " + ", ".join(SORTS))])
    direction = SelectField("Order", choices=choices_of(DIRECTIONS.items()), default="desc", validate_choice=False,
                            validators=[_one_of_choices("asc or desc")])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, message="must be 1 or more")], default=1)


def filter_form(formdata, registry: PluginManager, scope: str) -> FilterForm:
    """The form with the choices of this page's scope (``event`` or ``account``)."""
    form = FilterForm(formdata=formdata)
    types = sorted(registry.job_types_for(scope=scope), key=lambda jt: jt.label.lower())
    apps = sorted({jt.application for jt in types} & set(registry.applications),
                  key=lambda name: registry.applications[name].label.lower())
    form.application.choices = choices_of([("", "Any application"), *((a, registry.applications[a].label) for a in apps)])
    form.job_type.choices = choices_of([("", "Any job type"), *((jt.key, jt.label) for jt in types)])
    return form


def chosen(form: FilterForm) -> JobFilter:
    return JobFilter(state=form.state.data or "", application=form.application.data or "",
                     job_type=form.job_type.data or "", sort=form.sort.data or "submitted",
                     direction=form.direction.data or "desc")
