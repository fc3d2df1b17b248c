"""Which events a user may see: the one rule every admin page and query applies.

Administrators see every event of their account. Everyone else (event builders) sees only the
events they are assigned to (``EventAssignment``). Nobody sees another account's events. The
rule is written once here, as SQL conditions, so a page or an API filters in its query instead of
checking rows afterwards.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select
from sqlalchemy.orm import Session

from .models import Event, EventAssignment, Job, User


class Viewer(Protocol):
    """Who is looking: a ``User`` row, or the web's plain copy of one."""

    id: int
    account_id: int
    role: str


class AssignmentError(ValueError):
    """An assignment that cannot be made; the message says why."""


def sees_all_events(viewer: Viewer) -> bool:
    return viewer.role == "administrator"


def visible_event_ids(viewer: Viewer) -> Select:
    """The ids of the events ``viewer`` may see, as a subquery for ``IN``."""
    return select(Event.id).where(visible_events_condition(viewer))


def visible_events_condition(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE condition on ``Event`` that keeps only the events ``viewer`` may see."""
    same_account = Event.account_id == viewer.account_id
    if sees_all_events(viewer):
        return same_account
    assigned = select(EventAssignment.event_id).where(EventAssignment.user_id == viewer.id)
    return and_(same_account, Event.id.in_(assigned))


def visible_jobs_condition(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE condition on ``Job``: the account's account-level jobs (administrators only, the
    caller answers 403 to anyone else) and the jobs of the events ``viewer`` may see."""
    return and_(Job.account_id == viewer.account_id,
                or_(Job.event_id.is_(None), Job.event_id.in_(visible_event_ids(viewer))))


def visible_events(session: Session, viewer: Viewer) -> list[Event]:
    """The events ``viewer`` may see, soonest first, undated last."""
    return list(session.scalars(select(Event).where(visible_events_condition(viewer))
                                .order_by(Event.start_date.is_(None), Event.start_date, Event.event_code)))


def assign_event(session: Session, user: User, event: Event) -> bool:
    """Give an event builder access to an event of their account; False if they had it already."""
    if user.account_id != event.account_id:
        raise AssignmentError(f"{user.login} belongs to another account than event {event.event_code}")
    if sees_all_events(user):
        raise AssignmentError(f"{user.login} is an administrator and sees every event of the account already")
    if session.get(EventAssignment, (user.id, event.id)) is not None:
        return False
    session.add(EventAssignment(user_id=user.id, event_id=event.id))
    session.flush()
    return True


def unassign_event(session: Session, user: User, event: Event) -> bool:
    """Take an event away from an event builder; False if they were not assigned to it."""
    result = session.execute(delete(EventAssignment).where(EventAssignment.user_id == user.id,
                                                           EventAssignment.event_id == event.id))
    return bool(result.rowcount)


def assigned_event_codes(session: Session, user: User) -> list[str]:
    return list(session.scalars(select(Event.event_code).join(EventAssignment, EventAssignment.event_id == Event.id)
                                .where(EventAssignment.user_id == user.id).order_by(Event.event_code)))
