"""Planning a window of status-change events at once, and claiming what it plans.

The dispatcher takes up to a prefetch window of event messages and hands their ids here. One
transaction reads the events, the jobs that may react to them (one query for the whole window),
inserts the ledger rows — already ``sending``, held by this worker with a lease — and reads
what sending needs: the jobs' plugin configurations with their field and status mappings
(``selectinload``: one query each for the whole window), the accounts, the event rows, and the
registrations the events are about. Sending then needs no query of its own
unless the plugin asks for one.

Claiming at insert time keeps the ledger's rules (``connectors.jobs.deliveries``): a row is
inserted by exactly one dispatcher (``ON CONFLICT DO NOTHING`` on (job, event)), so the claim
needs no compare-and-set; a dispatcher that dies after the commit leaves its rows ``sending``,
their leases run out, and they are settled through ``verify`` like any interrupted send. A
redelivered message plans nothing new.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Iterable

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from ..db import transaction
from ..mapping import Mappings
from ..models import Account, Delivery, Event, Job, PluginConfig, Profile, Registration, StatusChangeEvent, utcnow
from ..plugins import PluginManager
from ..store import VIEW_COLUMNS, RegistrationView, view_of_row
from ..triggers import in_window, status_matches, triggered_types
from .event_context import mappings_of, status_map


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds, with everything its send reads (detached rows, loaded)."""

    delivery_id: int
    attempts: int
    job: Job
    config: PluginConfig
    account: Account
    event: Event | None
    payload: dict[str, Any]
    registrations: dict[str, RegistrationView] = field(default_factory=dict)
    mappings: Mappings | None = None  # built once per configuration and window
    status_mappings: dict[str, str] | None = None  # the configuration's, for the changed event
    params: dict[str, Any] | None = None  # the job's parameters loaded by its schema, once per window


def plan_and_claim(factory: sessionmaker[Session], registry: PluginManager, event_ids: Iterable[str], worker: str,
                   lease_seconds: int) -> list[ClaimedDelivery]:
    """Plan the deliveries of these events and claim them for ``worker``, in one transaction."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return []
    with transaction(factory) as s:
        events = list(s.scalars(select(StatusChangeEvent).where(StatusChangeEvent.id.in_(ids))))
        keys = set().union(*(triggered_types(registry.job_types.values(), e.type) for e in events)) if events else set()
        if not keys:
            return []
        jobs = list(s.scalars(select(Job).options(joinedload(Job.schedule)).where(
            Job.account_id.in_({e.account_id for e in events}), Job.enabled.is_(True), Job.job_type.in_(keys),
            or_(Job.validation_state.is_(None), Job.validation_state == "valid"))))
        pairs = [(job, event) for event in events for job in jobs if reacts(registry, job, event)]
        if not pairs:
            return []
        now = utcnow()
        lease_until = now + timedelta(seconds=lease_seconds)
        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        rows = s.connection().execute(  # one statement shape for any window: compiled once, cached
            dialect.insert(_rows).on_conflict_do_nothing(index_elements=["job_id", "event_id"])
            .returning(_rows.c.id, _rows.c.job_id, _rows.c.event_id),
            [{"job_id": job.id, "event_id": event.id, "state": "sending", "attempts": 1, "worker": worker,
              "lease_until": lease_until, "created_at": now, "updated_at": now} for job, event in pairs]).all()
        if not rows:
            return []
        claims = _claims(s, rows, {j.id: j for j in jobs}, {e.id: e for e in events})
    params = _loaded_params(registry, {c.job.id: c.job for c in claims}.values())
    return [replace(c, params=params.get(c.job.id)) for c in claims]


def _loaded_params(registry: PluginManager, jobs: Iterable[Job]) -> dict[int, dict[str, Any]]:
    """Each job's parameters through its schema (a schema instance costs more than a send's
    bookkeeping); a job whose parameters do not load is left out: its send reports why."""
    loaded = {}
    for job in jobs:
        try:
            loaded[job.id] = registry.job_type(job.job_type).params_schema().load(job.params or {})
        except Exception:  # noqa: BLE001 - raised again, as the delivery's failure, when it is sent
            continue
    return loaded


_rows = Delivery.__table__


def reacts(registry: PluginManager, job: Job, event: StatusChangeEvent) -> bool:
    """Whether this (enabled, valid) job takes this event: its account, its type's triggers, its
    event (an account-level job: any event of its account), its status filter and its
    schedule's window (``connectors.triggers``). A window holds events of several accounts."""
    job_type = registry.job_types.get(job.job_type)
    sched = job.schedule
    return (job_type is not None and job.account_id == event.account_id and event.type in (job_type.triggers or ())
            and (job.event_id is None or job.event_id == event.event_id)
            and status_matches(job.params or {}, event.payload)
            and (sched is None or in_window(event.occurred_at, sched.start_at, sched.end_at)))


def _claims(s: Session, rows, jobs: dict[int, Job], events: dict[str, StatusChangeEvent]) -> list[ClaimedDelivery]:
    claimed_jobs = {jobs[r.job_id] for r in rows}
    configs = {c.id: c for c in s.scalars(select(PluginConfig).options(
        selectinload(PluginConfig.mappings), selectinload(PluginConfig.status_mappings)).where(
        PluginConfig.id.in_({j.plugin_config_id for j in claimed_jobs})))}
    accounts = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_({j.account_id for j in claimed_jobs})))}
    event_rows = {e.id: e for e in s.scalars(select(Event).where(
        Event.id.in_({events[r.event_id].event_id for r in rows})))}
    views: dict[tuple[int, str], RegistrationView] = {}
    wanted = {(events[r.event_id].event_id, events[r.event_id].registration_id) for r in rows}
    for row in s.execute(select(*VIEW_COLUMNS).join(Profile, Profile.id == Registration.profile_id)
                         .where(Registration.id.in_({reg_id for _, reg_id in wanted}))):
        views[(row.event_id, row.registration_code)] = view_of_row(row)
    mappings = {config_id: mappings_of(config) for config_id, config in configs.items()}
    statuses: dict[tuple[int, int], dict[str, str]] = {}
    claims = []
    for r in rows:
        job, event = jobs[r.job_id], events[r.event_id]
        code = (event.payload or {}).get("registration_code")
        view = views.get((event.event_id, code))
        key = (job.plugin_config_id, event.event_id)
        if key not in statuses:
            statuses[key] = status_map(configs[job.plugin_config_id], event.event_id)
        claims.append(ClaimedDelivery(r.id, 1, job, configs[job.plugin_config_id], accounts[job.account_id],
                            event_rows.get(job.event_id) if job.event_id else None, event.payload,
                            {code: view} if view is not None and job.event_id else {},
                            mappings[job.plugin_config_id], statuses[key]))
    return claims
