"""The Registrations pages of an event: the list, and one registration with its sessions and
agenda items, whose statuses administrators and event builders change here.

A change goes through the core's ``change_status``, the writer the ingestion endpoint uses, so
the new status, its §5.4 event and its outbox row commit together (or not at all), and choosing
the status a row already has records nothing. Look-ups are scoped like every other page
(``access.event_or_404``): another account's registration is simply not found.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, SubmitField
from wtforms.validators import InputRequired

from connectors.models import (
    AGENDA_ITEM_STATUSES, SESSION_STATUSES, AgendaItem, AgendaItemRegistration, AttendeeType, Event, Profile,
    Registration, Session as EventSession, SessionRegistration, StatusChangeEvent,
)
from connectors.status_changes import StatusChangeRejected, change_status, registration_statuses
from connectors.status_events import AGENDA_ITEM_STATUS_CHANGED, REGISTRATION_STATUS_CHANGED, SESSION_STATUS_CHANGED

from . import access, reglist
from .paramforms import choices_of
from .db import get_db
from .filters import local_time

bp = Blueprint("registrations", __name__)

#: The URL segment of a subject kind, and the type of its status changes.
SUBJECT_KINDS = {"sessions": SESSION_STATUS_CHANGED, "agenda-items": AGENDA_ITEM_STATUS_CHANGED}
HISTORY_SHOWN = 20
#: The profile's ids in the connected systems, shown as their own columns.
EXTERNAL_ID_COLUMNS = (("marketo_lead_id", "Marketo lead id"), ("eloqua_contact_id", "Eloqua contact id"))


class StatusForm(FlaskForm):
    """One status select; the choices are the event's labels or the subject's fixed statuses.
    The core checks the value (``validate_choice=False``), so its reason is the one shown."""

    status = SelectField("New status", validators=[InputRequired(message="choose a status")], validate_choice=False)
    submit = SubmitField("Change status")


@bp.get("/events/<event_code>/registrations")
def registration_list(event_code: str):
    event = access.event_or_404(event_code)
    db = get_db()
    statuses = registration_statuses(db, event)
    form = reglist.filter_form(request.args, list(statuses))
    page, code = None, 200
    if form.validate():
        page = reglist.search(db, event, q=(form.q.data or "").strip(), status=form.status.data or "",
                              sort=form.sort.data, direction=form.direction.data, page=form.page.data or 1)
    else:
        code = 400
    any_registration = db.scalar(select(Registration.id).where(Registration.event_id == event.id).limit(1)) is not None
    return render_template("registrations/list.html", event=event, form=form, page=page, statuses=statuses,
                           attendee_types=_attendee_types(event), any_registration=any_registration,
                           external_id_columns=EXTERNAL_ID_COLUMNS, page_url=_page_url), code


@bp.get("/events/<event_code>/registrations/<int:registration_id>")
def registration_detail(event_code: str, registration_id: int):
    event = access.event_or_404(event_code)
    return _render_detail(event, _registration_or_404(event, registration_id))


@bp.post("/events/<event_code>/registrations/<int:registration_id>/status")
def change_registration_status(event_code: str, registration_id: int):
    return _change(event_code, registration_id, REGISTRATION_STATUS_CHANGED, None)


@bp.post("/events/<event_code>/registrations/<int:registration_id>/<any(sessions, 'agenda-items'):kind>/<subject_code>/status")
def change_subject_status(event_code: str, registration_id: int, kind: str, subject_code: str):
    return _change(event_code, registration_id, SUBJECT_KINDS[kind], subject_code)


def _change(event_code: str, registration_id: int, type: str, subject_code: str | None):
    """Validate the form, hand the change to the core, commit; errors re-render the page (422)."""
    event = access.event_or_404(event_code)
    reg = _registration_or_404(event, registration_id)
    db = get_db()
    form = StatusForm()
    key = (type, subject_code)
    if form.validate_on_submit():
        try:
            outcome = change_status(db, account_code=event.account.account_code, event=event, registration=reg,
                                    type=type, status=form.status.data, subject_code=subject_code,
                                    actor={"type": "user", "id": f"u_{current_user.id}", "name": current_user.name})
        except StatusChangeRejected as exc:
            db.rollback()
            if exc.field == "subject":  # the address names a session or agenda item this registration lacks
                abort(404)
            form.status.errors = [*form.status.errors, exc.reason]
        else:
            what = _subject_words(type, subject_code)
            if outcome.changed:
                db.commit()
                flash(f"{what}: status changed from {outcome.previous or 'none'} to {outcome.current}.", "success")
            else:
                db.rollback()
                flash(f"{what} already had the status {outcome.current}: nothing changed.", "info")
            return redirect(url_for(".registration_detail", event_code=event.event_code, registration_id=reg.id)
                            + _ANCHORS[type])
    return _render_detail(event, reg, failed=(key, form), code=422)


_ANCHORS = {REGISTRATION_STATUS_CHANGED: "#status", SESSION_STATUS_CHANGED: "#sessions",
            AGENDA_ITEM_STATUS_CHANGED: "#agenda-items"}


def _subject_words(type: str, code: str | None) -> str:
    if type == SESSION_STATUS_CHANGED:
        return f"Session {code}"
    if type == AGENDA_ITEM_STATUS_CHANGED:
        return f"Agenda item {code}"
    return "Registration"


def _registration_or_404(event: Event, registration_id: int) -> Registration:
    reg = get_db().scalar(select(Registration).where(Registration.id == registration_id,
                                                     Registration.event_id == event.id))
    if reg is None:
        abort(404)
    return reg


def _attendee_types(event: Event) -> dict[str, str]:
    return dict(get_db().execute(select(AttendeeType.code, AttendeeType.name).where(AttendeeType.event_id == event.id)).all())


def _page_url(event: Event, **changes: Any) -> str:
    """This list's address with the current search, filter and sort, and ``changes`` applied."""
    args = {k: v for k, v in request.args.items() if k in ("q", "status", "sort", "direction", "page") and v}
    args.update(changes)
    return url_for(".registration_list", event_code=event.event_code, **{k: v for k, v in args.items() if v})


def _status_form(choices: list[tuple[str, str]], current: str | None) -> StatusForm:
    form = StatusForm(formdata=None, data={"status": current})
    form.status.choices = choices_of(choices)
    return form


@dataclass(frozen=True)
class SubjectRow:
    """A session or agenda item of the registration, as its table shows it."""

    code: str
    name: str
    cells: tuple[tuple[str, Any], ...]  # (column, value) besides the name and status
    status: str | None
    form: StatusForm


@dataclass(frozen=True)
class SubjectSection:
    id: str       # the section's anchor, and the URL segment of its kind
    title: str
    noun: str     # "session", "agenda item": in labels and empty states
    columns: tuple[str, ...]
    rows: list[SubjectRow]


def _render_detail(event: Event, reg: Registration, failed: tuple[tuple[str, str | None], StatusForm] | None = None,
                   code: int = 200):
    """The registration, its sessions and agenda items with a status form each, and its last changes.
    ``failed`` is a posted form that was refused: it is shown with its errors in its place."""
    db = get_db()
    statuses = registration_statuses(db, event)
    labels = [(label, f"{label} ({row.classification})") for label, row in statuses.items()]
    if reg.status_label not in statuses:  # a label since removed from the catalogue: shown, refused by the core
        labels.insert(0, (reg.status_label, f"{reg.status_label} (not in the catalogue)"))
    forms = {(REGISTRATION_STATUS_CHANGED, None): _status_form(labels, reg.status_label)}
    sections = _subject_sections(db, event, reg, forms)
    if failed is not None:
        key, form = failed
        if key not in forms:  # a session or agenda item this registration has not taken
            abort(404)
        forms[key].status.errors, forms[key].status.data = form.status.errors, form.status.data
    history = list(db.scalars(select(StatusChangeEvent).where(StatusChangeEvent.registration_id == reg.id)
                              .order_by(StatusChangeEvent.registration_version.desc(), StatusChangeEvent.occurred_at.desc())
                              .limit(HISTORY_SHOWN)))
    return render_template(
        "registrations/detail.html", event=event, reg=reg, profile=db.get(Profile, reg.profile_id),
        status=statuses.get(reg.status_label), attendee_types=_attendee_types(event), sections=sections,
        registration_form=forms[(REGISTRATION_STATUS_CHANGED, None)], history=history,
        external_id_columns=EXTERNAL_ID_COLUMNS), code


def _subject_sections(db, event: Event, reg: Registration, forms: dict) -> list[SubjectSection]:
    """Sessions then agenda items, each row with its status form (also kept in ``forms``)."""
    tz = event.timezone
    sessions = db.execute(select(SessionRegistration, EventSession)
                          .join(EventSession, EventSession.id == SessionRegistration.session_id)
                          .where(SessionRegistration.registration_id == reg.id)
                          .order_by(EventSession.start, EventSession.session_code)).all()
    items = db.execute(select(AgendaItemRegistration, AgendaItem)
                       .join(AgendaItem, AgendaItem.id == AgendaItemRegistration.agenda_item_id)
                       .where(AgendaItemRegistration.registration_id == reg.id)
                       .order_by(AgendaItem.start, AgendaItem.code)).all()

    def row(type: str, statuses: tuple[str, ...], link, code: str, name: str, cells) -> SubjectRow:
        forms[(type, code)] = _status_form([(s, s) for s in statuses], link.status)
        return SubjectRow(code, name, tuple(cells), link.status, forms[(type, code)])

    return [
        SubjectSection("sessions", "Sessions", "session", ("Start", "Location", "Track"), [
            row(SESSION_STATUS_CHANGED, SESSION_STATUSES, link, s.session_code, s.title,
                [("Start", local_time(s.start, tz)), ("Location", s.location or "—"), ("Track", s.track or "—")])
            for link, s in sessions]),
        SubjectSection("agenda-items", "Agenda items", "agenda item", ("Start", "Quantity", "Fee"), [
            row(AGENDA_ITEM_STATUS_CHANGED, AGENDA_ITEM_STATUSES, link, a.code, a.name,
                [("Start", local_time(a.start, tz)), ("Quantity", link.quantity), ("Fee", link.fee)])
            for link, a in items]),
    ]
