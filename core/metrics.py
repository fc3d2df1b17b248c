"""Engagement and interest figures of registrations, computed in the database in batches.

Engagement counts a registration's sessions and agenda items by status; interest sums, per
account tag, the points of the sessions and agenda items a registration takes
(``specs/marketo.md`` §8.4–8.5, ``specs/certain.md`` §3.1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from .models import (
    SESSION_STATUSES, AGENDA_ITEM_STATUSES, AgendaItemRegistration, Profile, Registration, SessionRegistration, Tag,
    TagPoints,
)


@dataclass(frozen=True)
class Engagement:
    sessions: dict[str, int] = field(default_factory=dict)      # status -> count
    agenda_items: dict[str, int] = field(default_factory=dict)  # status -> count

    @property
    def sessions_registered(self) -> int:
        """Sessions taken, whether attended yet or not (Registered, Attended, No Show)."""
        return sum(self.sessions.get(s, 0) for s in ("Registered", "Attended", "No Show"))

    @property
    def sessions_attended(self) -> int:
        return self.sessions.get("Attended", 0)

    @property
    def agenda_items_registered(self) -> int:
        return self.agenda_items.get("Registered", 0)


def changed_since(since: datetime):
    """A WHERE clause: the registration, its profile, or any of its sessions or agenda items changed."""
    return or_(
        Registration.date_modified >= since,
        Profile.date_modified >= since,
        exists().where(SessionRegistration.registration_id == Registration.id, SessionRegistration.date_modified >= since),
        exists().where(AgendaItemRegistration.registration_id == Registration.id, AgendaItemRegistration.date_modified >= since),
    )


def tag_names(session: Session, account_id: int) -> list[str]:
    return list(session.scalars(select(Tag.name).where(Tag.account_id == account_id).order_by(Tag.name)))


def engagement(session: Session, registration_ids: list[int]) -> dict[int, Engagement]:
    sessions: dict[int, dict[str, int]] = {rid: {s: 0 for s in SESSION_STATUSES} for rid in registration_ids}
    items: dict[int, dict[str, int]] = {rid: {s: 0 for s in AGENDA_ITEM_STATUSES} for rid in registration_ids}
    if registration_ids:
        for rid, status, n in session.execute(
                select(SessionRegistration.registration_id, SessionRegistration.status, func.count())
                .where(SessionRegistration.registration_id.in_(registration_ids))
                .group_by(SessionRegistration.registration_id, SessionRegistration.status)):
            sessions[rid][status] = n
        for rid, status, n in session.execute(
                select(AgendaItemRegistration.registration_id, AgendaItemRegistration.status, func.count())
                .where(AgendaItemRegistration.registration_id.in_(registration_ids))
                .group_by(AgendaItemRegistration.registration_id, AgendaItemRegistration.status)):
            items[rid][status] = n
    return {rid: Engagement(sessions[rid], items[rid]) for rid in registration_ids}


def interest(session: Session, registration_ids: list[int], session_statuses: tuple[str, ...],
             agenda_statuses: tuple[str, ...]) -> dict[int, dict[str, int]]:
    scores: dict[int, dict[str, int]] = {rid: {} for rid in registration_ids}
    if not registration_ids:
        return scores
    by_session = (select(SessionRegistration.registration_id, Tag.name, func.sum(TagPoints.points))
                  .join(TagPoints, TagPoints.session_id == SessionRegistration.session_id)
                  .join(Tag, Tag.id == TagPoints.tag_id)
                  .where(SessionRegistration.registration_id.in_(registration_ids),
                         SessionRegistration.status.in_(session_statuses))
                  .group_by(SessionRegistration.registration_id, Tag.name))
    by_item = (select(AgendaItemRegistration.registration_id, Tag.name, func.sum(TagPoints.points))
               .join(TagPoints, TagPoints.agenda_item_id == AgendaItemRegistration.agenda_item_id)
               .join(Tag, Tag.id == TagPoints.tag_id)
               .where(AgendaItemRegistration.registration_id.in_(registration_ids),
                      AgendaItemRegistration.status.in_(agenda_statuses))
               .group_by(AgendaItemRegistration.registration_id, Tag.name))
    for query in (by_session, by_item):
        for rid, tag, points in session.execute(query):
            scores[rid][tag] = scores[rid].get(tag, 0) + int(points or 0)
    return scores
