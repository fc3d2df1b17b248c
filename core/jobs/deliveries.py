"""Delivering status-change events to event-triggered jobs, exactly once per (job, event).

``plan`` writes one ledger row per matching job (a duplicate message plans nothing new);
``deliver`` claims a row with a compare-and-set and a lease, calls the plugin's ``on_event``,
and records the outcome. A worker that dies while holding a row leaves it ``sending``; when the
lease expires (a live one renews it while the plugin works), ``settle_interrupted`` marks it
``uncertain`` and asks the plugin's ``verify`` whether the send happened — never sending blindly
a second time. A plugin that cannot tell whether its send went through raises
``DeliveryUncertain``: the row is ``uncertain`` too. A ``verify`` that fails (the target is down)
is asked again later, with the same doubling delay. Failures are retried with a doubling delay,
then parked for an administrator, who can retry them (``retry``). Jobs whose parameters still
await their check against the target (``validation``) are not planned for.
"""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from ..db import transaction
from ..models import Account, Delivery, Event, Job, PluginConfig, StatusChangeEvent, utcnow
from ..plugin_api import DeliveryUncertain, JobFailed
from ..plugins import PluginManager
from ..secrets import SecretBox
from ..triggers import retry_delay, triggered_types
from .delivery_batches import ClaimedDelivery, reacts
from .delivery_leases import leases
from .delivery_outcomes import outcomes
from .event_context import EventContext, status_map

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def plan(session: Session, registry: PluginManager, event: StatusChangeEvent) -> list[int]:
    """Ledger rows for every enabled job of the event's account (and event) that reacts to it."""
    keys = triggered_types(registry.job_types.values(), event.type)
    if not keys:
        return []
    jobs = session.scalars(select(Job).options(joinedload(Job.schedule)).where(
        Job.account_id == event.account_id, Job.enabled.is_(True), Job.job_type.in_(keys),
        or_(Job.validation_state.is_(None), Job.validation_state == "valid"),
        or_(Job.event_id == event.event_id, Job.event_id.is_(None))))
    planned = []
    for job in jobs:
        if not reacts(registry, job, event):
            continue
        insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(Delivery)
        new_id = session.execute(insert.values(job_id=job.id, event_id=event.id, state="pending", attempts=0,
                                               created_at=utcnow(), updated_at=utcnow())
                                 .on_conflict_do_nothing(index_elements=["job_id", "event_id"])
                                 .returning(Delivery.id)).scalar_one_or_none()
        if new_id is not None:
            planned.append(new_id)
    return planned


def plan_event(factory: sessionmaker[Session], registry: PluginManager, event_id: str) -> list[int]:
    with transaction(factory) as s:
        event = s.get(StatusChangeEvent, event_id)
        return plan(s, registry, event) if event is not None else []


def due(factory: sessionmaker[Session], now: datetime | None = None, limit: int = 100) -> list[int]:
    """Pending rows, and failed ones whose retry time has come, of enabled jobs (a disabled job's
    deliveries wait for it to be enabled again)."""
    now = now or utcnow()
    with factory() as s:
        return list(s.scalars(select(Delivery.id).where(_sendable(now)).order_by(Delivery.id).limit(limit)))


def _sendable(now: datetime):
    return and_(or_(Delivery.state == "pending", (Delivery.state == "failed") & (Delivery.next_attempt_at <= now)),
                Delivery.job_id.in_(select(Job.id).where(Job.enabled.is_(True))))


def deliver(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox, delivery_id: int,
            worker: str, lease_seconds: int = 60) -> str:
    """Send one delivery if it is ours to send; returns its new state (or "skipped"). The claim
    (a compare-and-set with a lease) and the reads its send needs are one transaction: if a read
    fails, the claim is undone with it and the row stays sendable."""
    now = utcnow()
    with transaction(factory) as s:
        res = s.execute(update(Delivery).where(Delivery.id == delivery_id, _sendable(now))
            .values(state="sending", worker=worker, lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=Delivery.attempts + 1, updated_at=now))
        if res.rowcount != 1:
            return "skipped"
        claim = _claimed(s, delivery_id)
    return send(factory, registry, box, claim, worker, lease_seconds)


def send(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox, claim: ClaimedDelivery,
         worker: str, lease_seconds: int = 60) -> str:
    """Call the plugin's ``on_event`` for a delivery ``worker`` holds, and record the outcome."""
    delivery_id = claim.delivery_id
    with factory() as s, leases.holding(factory, delivery_id, worker, lease_seconds):
        try:
            job_type = registry.job_type(claim.job.job_type)
            ctx = _context(s, box, claim, factory)
            params = dict(claim.params) if claim.params is not None else job_type.params_schema().load(
                claim.job.params or {})
            remote_id = job_type.on_event(ctx, params, claim.payload)
            s.commit()  # what the plugin recorded in the store (a contact id it looked up)
        except JobFailed as exc:  # the plugin says retrying cannot help
            return _finish(factory, delivery_id, worker, "parked", error=f"{exc.code}: {exc}" if exc.code else str(exc))
        except DeliveryUncertain as exc:  # it may have happened: verify decides, never a blind resend
            log.warning("delivery %s uncertain: %s", delivery_id, exc)
            return _finish(factory, delivery_id, worker, "uncertain", error=str(exc), next_attempt_at=utcnow())
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is this delivery's, not the worker's
            log.warning("delivery %s failed: %r", delivery_id, exc)
            if claim.attempts >= MAX_ATTEMPTS:
                return _finish(factory, delivery_id, worker, "parked", error=_describe(exc))
            return _finish(factory, delivery_id, worker, "failed", error=_describe(exc),
                           next_attempt_at=utcnow() + timedelta(seconds=retry_delay(claim.attempts)))
    return _finish(factory, delivery_id, worker, "sent", remote_id=None if remote_id is None else str(remote_id))


def settle_interrupted(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox,
                       now: datetime | None = None) -> dict[int, str]:
    """Rows left ``sending`` by a dead worker, and uncertain rows whose next check is due: ask
    the plugin whether the send happened (``to_verify``, then ``verify`` each)."""
    return {i: verify(factory, registry, box, i) for i in to_verify(factory, now)}


def to_verify(factory: sessionmaker[Session], now: datetime | None = None) -> list[int]:
    """Mark rows whose sender's lease ran out ``uncertain``; return them with the uncertain rows
    whose next check is due. (A verification may take minutes: the dispatcher runs each in its pool.)"""
    now = now or utcnow()
    with transaction(factory) as s:
        ids = list(s.scalars(select(Delivery.id).where(Delivery.state == "sending", Delivery.lease_until < now)))
        if ids:
            s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.state == "sending")
                      .values(state="uncertain", worker=None, lease_until=None, next_attempt_at=None, updated_at=now))
        ids += list(s.scalars(select(Delivery.id).where(
            Delivery.state == "uncertain", or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
            Delivery.id.not_in(ids or [0]))))
    return sorted(ids)


def verify(factory: sessionmaker[Session], registry: PluginManager, box: SecretBox, delivery_id: int) -> str:
    """Settle an uncertain delivery: sent if it happened, pending if it surely did not, parked if
    the plugin cannot tell; a check that failed (the target is down) is tried again later."""
    failure = None
    with factory() as s:
        delivery = s.get(Delivery, delivery_id)
        if delivery is None or delivery.state != "uncertain":
            return delivery.state if delivery else "missing"
        attempts = delivery.attempts
        claim = _claimed(s, delivery_id)
        s.commit()
        job_type = registry.job_types.get(claim.job.job_type)
        answer = None
        if job_type is not None and job_type.verify is not None:
            try:
                ctx = _context(s, box, claim, factory)
                answer = job_type.verify(ctx, job_type.params_schema().load(claim.job.params or {}), claim.payload)
                s.commit()
            except Exception as exc:  # noqa: BLE001
                log.warning("verifying delivery %s failed: %r", delivery_id, exc)
                failure = exc
    values: dict = {"updated_at": utcnow()}
    if failure is not None and attempts < MAX_ATTEMPTS:  # ask again later; the row stays uncertain
        state = "uncertain"
        values.update(attempts=attempts + 1, next_attempt_at=utcnow() + timedelta(seconds=retry_delay(attempts)),
                      last_error=f"could not verify yet whether it was sent: {_describe(failure)}")
    else:
        state = {True: "sent", False: "pending"}.get(answer, "parked")
        values.update(state=state, next_attempt_at=None, last_error=None if answer is not None else
                      "interrupted after it may have been sent; could not verify: retry only if it did not arrive")
    with transaction(factory) as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.state == "uncertain").values(**values))
    return state


def retry(session: Session, delivery: Delivery) -> bool:
    """An administrator's "retry": a parked, failed or uncertain delivery goes back to pending."""
    if delivery.state not in ("parked", "failed", "uncertain"):
        return False
    delivery.state, delivery.next_attempt_at, delivery.last_error = "pending", None, None
    return True


def replay(session: Session, registry: PluginManager, job: Job, since: datetime) -> list[int]:
    """Catch up a job on events it missed (disabled meanwhile, target down): plans what is missing."""
    q = select(StatusChangeEvent).where(StatusChangeEvent.account_id == job.account_id,
                                        StatusChangeEvent.occurred_at >= since).order_by(StatusChangeEvent.occurred_at)
    if job.event_id is not None:
        q = q.where(StatusChangeEvent.event_id == job.event_id)
    planned: list[int] = []
    for event in session.scalars(q):
        planned += [d for d in plan(session, registry, event)
                    if session.get(Delivery, d).job_id == job.id]
    return planned


@dataclass(frozen=True)
class CatchUp:
    """What a catch-up found: deliveries newly planned, the job's deliveries by state, and the
    ones an administrator should look at (parked or uncertain: event id, state, last error)."""

    planned: int
    states: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)


def catch_up(session: Session, registry: PluginManager, job_id: int, since: datetime | None) -> CatchUp:
    """``replay`` for one job from ``since`` (default: its submission), in the caller's transaction."""
    job = session.get(Job, job_id)
    planned = replay(session, registry, job, since or job.submitted_at)
    rows = session.execute(select(Delivery.state, Delivery.event_id, Delivery.last_error)
                           .where(Delivery.job_id == job_id).order_by(Delivery.id)).all()
    states: dict[str, int] = {}
    for state, _, _ in rows:
        states[state] = states.get(state, 0) + 1
    problems = [(event_id, state, error) for state, event_id, error in rows if state in ("parked", "uncertain")]
    return CatchUp(len(planned), states, problems)


def _claimed(s: Session, delivery_id: int) -> ClaimedDelivery:
    """What sending (or verifying) one delivery reads, loaded in the caller's transaction."""
    delivery = s.get(Delivery, delivery_id, options=[joinedload(Delivery.job)])
    job = delivery.job
    config = s.get(PluginConfig, job.plugin_config_id, options=[selectinload(PluginConfig.mappings),
                                                                 selectinload(PluginConfig.status_mappings)])
    change = s.get(StatusChangeEvent, delivery.event_id)
    return ClaimedDelivery(delivery.id, delivery.attempts, job, config,
                           s.get(Account, job.account_id), s.get(Event, job.event_id) if job.event_id else None,
                           change.payload, status_mappings=status_map(config, change.event_id))


def _context(s: Session, box: SecretBox, claim: ClaimedDelivery, factory: sessionmaker[Session]) -> EventContext:
    """The plugin's context; the claim's rows come from another session, so they join this one
    without a query (``merge(load=False)``) before the store may use them."""
    event = s.merge(claim.event, load=False) if claim.event is not None else None
    return EventContext.build(s, box, claim.config, s.merge(claim.account, load=False), event,
                              delivery_id=claim.delivery_id, attempt=claim.attempts, job_id=claim.job.id,
                              factory=factory, registrations=claim.registrations, mappings=claim.mappings,
                              status_mappings=claim.status_mappings)


def _finish(factory, delivery_id: int, worker: str, state: str, *, error: str | None = None,
            remote_id: str | None = None, next_attempt_at: datetime | None = None) -> str:
    """Record the outcome — only while the row is still ours (a settled row is not overwritten)."""
    recorded = outcomes.record(factory, delivery_id, worker, {
        "state": state, "last_error": error, "remote_id": remote_id, "next_attempt_at": next_attempt_at,
        "worker": None, "lease_until": None, "updated_at": utcnow()})
    return state if recorded else "lost"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc, limit=3))[-1500:]
