"""The New Job form: standard fields and the schedule, plus the job type's generated parameters.

The form turns what was typed into the ``params`` and ``schedule`` dicts the core's ``submit``
takes, and puts the core's ``SubmitError`` messages back next to the fields they name.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, DateTimeLocalInput, EmailInput, ListWidget, NumberInput, TimeInput

from connectors.models import Event
from connectors.plugin_api import JobType
from connectors.schedules import DAY_NAMES, DAYS, FREQUENCIES

from . import paramforms
from .paramforms import Param, choices_of

RUN_MODES = [("now", "Run once, now"), ("at", "Run once, at a date and time"), ("recurring", "Recurring")]
FREQUENCY_LABELS = {"minutes": "Every N minutes", "hourly": "Every N hours", "daily": "Every N days",
                    "weekly": "Every N weeks", "monthly": "Every N months"}
#: The core's schedule fields -> this form's inputs (``mode`` is the run-mode radio).
SCHEDULE_INPUTS = {"mode": "run_mode", "run_at": "run_at", "frequency": "frequency", "interval": "interval",
                   "days_of_week": "days_of_week", "time_of_day": "time_of_day", "day_of_month": "day_of_month",
                   "start_at": "start_at", "end_at": "end_at", "timezone": "timezone", "max_runs": "max_runs"}
RECURRING_OPTIONAL = ("days_of_week", "time_of_day", "day_of_month", "max_runs")
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(z for z in available_timezones() if "/" in z or z == "UTC") or ["UTC"]
    return [(z, z.replace("_", " ")) for z in names]


class JobFormBase(FlaskForm):
    """Fields every job has (certain.md §5.6); ``build`` adds the job type's own."""

    name = StringField("Job name", validators=[Length(max=300)], render_kw={"maxlength": 300, "required": True})
    notify_email = StringField("Notification e-mail", widget=EmailInput(), validators=[Length(max=320)],
                               description="Optional: who hears when a run ends.",
                               render_kw={"maxlength": 320, "autocomplete": "email"})
    run_mode = RadioField("Run", choices=choices_of(RUN_MODES), default="now")
    run_at = StringField("Date and time", widget=DateTimeLocalInput())
    frequency = SelectField("Frequency", choices=choices_of((f, FREQUENCY_LABELS[f]) for f in FREQUENCIES), default="daily")
    interval = StringField("Interval (N)", widget=NumberInput(step=1, min=1), default="1")
    days_of_week = SelectMultipleField("Days of week", choices=choices_of((d, DAY_NAMES[d]) for d in DAYS),
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                       description="Daily and weekly schedules. None ticked: every day (daily), the start's weekday (weekly).")
    time_of_day = StringField("Time of day", widget=TimeInput(),
                              description="Daily, weekly and monthly schedules; default: the start's time.")
    day_of_month = StringField("Day of month", widget=NumberInput(step=1, min=1, max=31),
                               description="Monthly schedules; default: the start's day.")
    start_at = StringField("Start", widget=DateTimeLocalInput())
    end_at = StringField("End", widget=DateTimeLocalInput())
    timezone = SelectField("Time zone", choices=[])
    max_runs = StringField("At most N runs", widget=NumberInput(step=1, min=1), description="Optional.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = timezone_choices()
        current = self.timezone.data
        if current and current not in {value for value, _ in zones}:
            zones = [(current, current), *zones]  # keep an unusual zone visible (the core judges it)
        self.timezone.choices = choices_of(zones)


def build(job_type: JobType, event_choices: dict[str, list[str]]) -> tuple[type[JobFormBase], list[Param]]:
    """A form class for this job type and the list of its generated parameter inputs."""
    generated = paramforms.generate(job_type, event_choices)
    form_class = type("JobForm", (JobFormBase,), {p.form_name: field for p, field in generated})
    return form_class, [p for p, _ in generated]


def defaults(job_type: JobType, event: Event | None, account_code: str, now: datetime) -> dict[str, Any]:
    """Initial values: the spec's default name, the event's time zone, and a recurring window from
    the next hour until a week after the event ends (or 30 days)."""
    tz_name = event.timezone if event else "UTC"
    tz = ZoneInfo(tz_name)
    start = (now.astimezone(tz) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    end = event.end_date.astimezone(tz) + timedelta(days=7) if event and event.end_date else start + timedelta(days=30)
    if end <= start:
        end = start + timedelta(days=30)
    return {"name": f"{job_type.label} – {event.event_code if event else account_code}", "timezone": tz_name,
            "start_at": start.strftime(LOCAL_FORMAT), "end_at": end.strftime(LOCAL_FORMAT)}


def _text(form: JobFormBase, name: str) -> str:
    raw = form[name].raw_data
    return raw[0].strip() if raw and isinstance(raw[0], str) else ""


def _int_or_text(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value  # the core answers "Not a valid integer." next to the field


def schedule(form: JobFormBase) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The schedule dict for ``submit``, and errors only this form can see (an empty "at")."""
    mode = form.run_mode.data or "now"
    tz = _text(form, "timezone") or None
    if mode == "now":
        return {"mode": "once", "run_at": None, "timezone": tz}, {}
    if mode == "at":
        run_at = _text(form, "run_at")
        problems = {} if run_at else {"schedule.run_at": ["Choose a date and time, or run it now."]}
        return {"mode": "once", "run_at": run_at or None, "timezone": tz}, problems
    if mode != "recurring":
        return {"mode": mode}, {}
    spec: dict[str, Any] = {"mode": "recurring", "timezone": tz, "frequency": _text(form, "frequency") or None,
                            "interval": _int_or_text(_text(form, "interval") or "1"),
                            "start_at": _text(form, "start_at") or None, "end_at": _text(form, "end_at") or None}
    days = [d for d in (form.days_of_week.raw_data or []) if d]
    if days:
        spec["days_of_week"] = days
    for name in ("time_of_day", "day_of_month", "max_runs"):
        value = _text(form, name)
        if value:
            spec[name] = value if name == "time_of_day" else _int_or_text(value)
    return spec, {}


def local_errors(form: JobFormBase) -> dict[str, list[str]]:
    """Checks of the standard fields the core leaves to its callers."""
    problems: dict[str, list[str]] = {}
    email = _text(form, "notify_email")
    if email and ("@" not in email or " " in email or len(email) > 320):
        problems["notify_email"] = ["Not a valid e-mail address."]
    if len(_text(form, "name")) > 300:
        problems["name"] = ["At most 300 characters."]
    return problems


def place_errors(form: JobFormBase, params: list[Param], messages: dict[str, list[str]]) -> list[str]:
    """Attach each message to the input it names; return the ones that name no input."""
    by_key = {p.key: p.form_name for p in params}
    general: list[str] = []
    for path, reasons in messages.items():
        head, _, rest = path.partition(".")
        first = rest.split(".", 1)[0]
        target = {"params": by_key.get(first), "schedule": SCHEDULE_INPUTS.get(first)}.get(head)
        if target is None and head in ("name", "notify_email") and not rest:
            target = head
        if target is None:
            plain = not rest or first == "_schema" or head in ("event", "application", "job_type")
            general.extend(reasons if plain else [f"{rest}: {r}" for r in reasons])
            continue
        field = form[target]
        field.errors = [*field.errors, *reasons]
    return general
