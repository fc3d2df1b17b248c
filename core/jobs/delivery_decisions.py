"""What an administrator sees and decides about an event-triggered job's deliveries.

``deliveries.retry`` sends a parked, failed or uncertain delivery again; for an uncertain one
that is "mark as not sent". ``mark_sent`` settles one that did arrive (the administrator checked
the target) so it is never sent twice. Both are compare-and-sets on the row's state: a worker
that settled the row meanwhile wins, and the decision reports it was not applied.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..models import DELIVERY_STATES, Delivery, StatusChangeEvent, utcnow
from .deliveries import retry

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


def mark_sent(session: Session, delivery: Delivery, by: str) -> bool:
    """An administrator says it arrived: sent, never sent again. Only from parked or uncertain."""
    res = session.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.state.in_(("parked", "uncertain")))
                          .values(state="sent", next_attempt_at=None, worker=None, lease_until=None,
                                  last_error=f"marked as sent by {by}", updated_at=utcnow())
                          .execution_options(synchronize_session=False))
    session.expire(delivery)
    return res.rowcount == 1


def decide(session: Session, delivery: Delivery, decision: str, by: str) -> bool:
    """Apply ``decision`` if the delivery's state offers it; False when it does not (any more)."""
    if decision not in DECISIONS.get(delivery.state, ()):
        return False
    if decision == "mark_sent":
        return mark_sent(session, delivery, by)
    return retry(session, delivery)  # retry / mark_not_sent: pending, the dispatcher sends it
