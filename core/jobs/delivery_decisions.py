"""What an administrator sees and decides about an event-triggered job's deliveries.

"Retry" (and, for an uncertain delivery, "mark as not sent") puts it back to pending: the
dispatcher sends it. "Mark as sent" settles one that did arrive (the administrator checked the
target), so it is never sent. Each decision is a compare-and-set on the state the administrator
saw: a worker that settled the row meanwhile wins, and the decision reports it was not applied —
never a resend of a delivery a worker just found sent.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import DELIVERY_STATES, Delivery, StatusChangeEvent, utcnow

#: the states an administrator may decide on, and the decisions each offers
DECISIONS = {"parked": ("retry", "mark_sent"), "uncertain": ("mark_sent", "mark_not_sent"), "failed": ("retry",)}


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Delivery
    event_type: str | None
    occurred_at: object


def states_of(session: Session, job_id: int) -> dict[str, int]:
    """The job's deliveries counted by state, every state present (zeros included)."""
    counts = dict(session.execute(select(Delivery.state, func.count(Delivery.id))
                                  .where(Delivery.job_id == job_id).group_by(Delivery.state)).all())
    return {state: int(counts.get(state, 0)) for state in DELIVERY_STATES}


def needing_decision(session: Session, job_id: int, limit: int = 100) -> list[DeliveryRow]:
    """Parked, uncertain and failed deliveries of the job, oldest first, with their event."""
    rows = session.execute(select(Delivery, StatusChangeEvent.type, StatusChangeEvent.occurred_at)
                           .join(StatusChangeEvent, StatusChangeEvent.id == Delivery.event_id)
                           .where(Delivery.job_id == job_id, Delivery.state.in_(tuple(DECISIONS)))
                           .order_by(Delivery.id).limit(limit)).all()
    return [DeliveryRow(d, t, at) for d, t, at in rows]


def decide(session: Session, delivery: Delivery, decision: str, by: str, seen_state: str | None = None) -> bool:
    """Apply ``decision`` if the state the administrator saw (default: the loaded one) offers it and
    the row is still in that state; False otherwise, nothing changed."""
    expected = seen_state or delivery.state
    if decision not in DECISIONS.get(expected, ()):
        return False
    values = ({"state": "sent", "last_error": f"marked as sent by {by}"} if decision == "mark_sent"
              else {"state": "pending", "last_error": None})
    res = session.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.state == expected)
                          .values(next_attempt_at=None, worker=None, lease_until=None, updated_at=utcnow(), **values)
                          .execution_options(synchronize_session=False))
    if delivery in session:
        session.expire(delivery)  # the view reads its new state
    return res.rowcount == 1
