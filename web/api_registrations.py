"""API: an event's registrations — the list's search (``reglist.search``), one registration with
its sessions and agenda items, and status changes through the core's ``change_status``, the
writer behind the Registrations page and the ingestion endpoint."""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from connectors.models import (
    AgendaItem, AgendaItemRegistration, Event, Profile, Registration, Session as EventSession, SessionRegistration,
)
from connectors.status_changes import StatusChangeRejected, change_status, registration_statuses
from connectors.status_events import AGENDA_ITEM_STATUS_CHANGED, REGISTRATION_STATUS_CHANGED, SESSION_STATUS_CHANGED

from . import access, reglist
from .api import bp
from .api_schemas import RegistrationDetail, RegistrationList, RegistrationQuery, StatusChange, StatusChangeOut
from .api_support import ApiError, dump, load_body, load_query, operation, page_info
from .db import get_db

TAG = "registrations"
SUBJECT_KINDS = {"sessions": SESSION_STATUS_CHANGED, "agenda-items": AGENDA_ITEM_STATUS_CHANGED}


def _registration_or_404(event: Event, registration_id: int) -> Registration:
    reg = get_db().scalar(select(Registration).where(Registration.id == registration_id,
                                                     Registration.event_id == event.id))
    if reg is None:
        abort(404, description="no such registration in this event")
    return reg


def registration_view(reg: Registration, profile: Profile) -> dict[str, Any]:
    return {"id": reg.id, "registration_code": reg.registration_code, "status": reg.status_label,
            "attendee_type": reg.attendee_type_code, "email": profile.email, "first_name": profile.first_name,
            "last_name": profile.last_name, "external_ids": {**(profile.external_ids or {}), **(reg.external_ids or {})},
            "date_modified": reg.date_modified}


@bp.get("/events/<event_code>/registrations")
@operation("Search an event's registrations", tag=TAG, query=RegistrationQuery, response=RegistrationList,
           errors=(400, 404), description=f"{reglist.PAGE_SIZE} a page, as on the Registrations page.")
def list_registrations(event_code: str):
    event = access.event_or_404(event_code)
    db, args = get_db(), load_query(RegistrationQuery)
    if args["status"] and args["status"] not in registration_statuses(db, event):
        raise ApiError(400, {"status": [f"{args['status']!r} is not a status of event {event.event_code}"]})
    page = reglist.search(db, event, q=args["q"].strip(), status=args["status"], sort=args["sort"],
                          direction=args["direction"], page=args["page"])
    return dump(RegistrationList, {"registrations": [registration_view(r, p) for r, p in page.rows],
                                   "page": page_info(page.page, reglist.PAGE_SIZE, page.total)})


@bp.get("/events/<event_code>/registrations/<int:registration_id>")
@operation("One registration with its sessions and agenda items", tag=TAG, response=RegistrationDetail,
           errors=(404,))
def get_registration(event_code: str, registration_id: int):
    event = access.event_or_404(event_code)
    reg = _registration_or_404(event, registration_id)
    db = get_db()
    sessions = db.execute(select(SessionRegistration.status, EventSession.session_code, EventSession.title)
                          .join(EventSession, EventSession.id == SessionRegistration.session_id)
                          .where(SessionRegistration.registration_id == reg.id)
                          .order_by(EventSession.start, EventSession.session_code)).all()
    items = db.execute(select(AgendaItemRegistration.status, AgendaItem.code, AgendaItem.name)
                       .join(AgendaItem, AgendaItem.id == AgendaItemRegistration.agenda_item_id)
                       .where(AgendaItemRegistration.registration_id == reg.id)
                       .order_by(AgendaItem.start, AgendaItem.code)).all()
    return dump(RegistrationDetail, {
        **registration_view(reg, db.get(Profile, reg.profile_id)),
        "sessions": [{"code": code, "name": name, "status": status} for status, code, name in sessions],
        "agenda_items": [{"code": code, "name": name, "status": status} for status, code, name in items]})


def _change(event_code: str, registration_id: int, type: str, subject_code: str | None):
    event = access.event_or_404(event_code)
    reg = _registration_or_404(event, registration_id)
    db, body = get_db(), load_body(StatusChange)
    try:
        outcome = change_status(db, account_code=event.account.account_code, event=event, registration=reg,
                                type=type, status=body["status"], subject_code=subject_code,
                                actor={"type": "user", "id": f"u_{current_user.id}", "name": current_user.name})
    except StatusChangeRejected as exc:
        db.rollback()
        if exc.field == "subject":  # the address names a session or agenda item this registration lacks
            abort(404, description=exc.reason)
        raise ApiError(422, {exc.field: [exc.reason]}) from None
    if outcome.changed:
        db.commit()
    else:
        db.rollback()
    return dump(StatusChangeOut, {"changed": outcome.changed, "previous": outcome.previous,
                                  "current": outcome.current, "event_id": outcome.event_id})


@bp.post("/events/<event_code>/registrations/<int:registration_id>/status")
@operation("Change a registration's status", tag=TAG, body=StatusChange, response=StatusChangeOut,
           errors=(400, 404, 422), description="Recorded as a status-change event for the event-triggered jobs; "
                                               "the status it already has changes nothing.")
def change_registration_status(event_code: str, registration_id: int):
    return _change(event_code, registration_id, REGISTRATION_STATUS_CHANGED, None)


@bp.post("/events/<event_code>/registrations/<int:registration_id>/<any(sessions, 'agenda-items'):kind>"
         "/<subject_code>/status")
@operation("Change a session or agenda-item status of a registration", tag=TAG, body=StatusChange,
           response=StatusChangeOut, errors=(400, 404, 422),
           description="`kind` is `sessions` or `agenda-items`; the registration must have taken it.")
def change_subject_status(event_code: str, registration_id: int, kind: str, subject_code: str):
    return _change(event_code, registration_id, SUBJECT_KINDS[kind], subject_code)
