"""Helpers the Eloqua outbound job tests share: the demo programme (sessions, agenda items, tags
and registrations) in the harness's event, edits as an admin would make them, and the Bulk calls
Eloqua carried out."""
from __future__ import annotations

from sqlalchemy import select

from connectors.db import transaction
from connectors.demo_agenda import seed_programme
from connectors.models import Account, Event
from connectors.testing import (  # the last two are re-exported for the job tests
    ACCOUNT_CODE, EVENT_CODE, edit_registration, registrations_by_email,
)

__all__ = ["ATTENDEES", "add_outbound_mapping", "die_on_call", "edit_registration", "imports",
           "registrations_by_email", "seed_attendees", "syncs_started", "take_over", "uploaded_rows"]

ATTENDEES = 120


def seed_attendees(harness, attendees: int = ATTENDEES) -> None:
    with transaction(harness.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        seed_programme(s, account, s.scalar(select(Event).where(Event.event_code == EVENT_CODE)), attendees=attendees)


def imports(sandbox, path=r"(?i)/api/bulk/2\.0/contacts/imports"):
    """Import definitions created (their bodies), in order."""
    return [c.body for c in sandbox.journal.filter("POST", path) if c.status == 201]


def uploaded_rows(sandbox, path=r"(?i)/api/bulk/2\.0/(contacts|customObjects/\d+)/imports/\d+/data"):
    """Every row staged by uploads Eloqua took, in order."""
    return [row for c in sandbox.journal.filter("POST", path) if c.status in (201, 204) for row in c.body]


def syncs_started(sandbox):
    return [c for c in sandbox.journal.filter("POST", r"(?i)/api/bulk/2\.0/syncs") if c.status == 201]


def add_outbound_mapping(harness, certain_field: str, remote_field: str) -> None:
    """One more outbound field mapping on the harness's Eloqua configuration."""
    from connectors.models import FieldMapping, PluginConfig  # noqa: PLC0415

    with transaction(harness.factory) as s:
        config = s.scalar(select(PluginConfig).where(PluginConfig.application == "eloqua"))
        config.mappings.append(FieldMapping(direction="outbound", certain_field=certain_field, remote_field=remote_field,
                                            transform="none", update_policy="overwrite", is_match_key=False,
                                            required=False, position=len(config.mappings)))


def die_on_call(monkeypatch, cls, name, n):
    """The ``n``-th call of ``cls.name`` kills the worker (as if the process died): what the run
    did after its last commit is lost and it stays ``running`` until its lease runs out."""
    from connectors import LeaseLost  # noqa: PLC0415

    real, calls = getattr(cls, name), []

    def dying(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            raise LeaseLost("worker killed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, dying)
    return lambda: monkeypatch.setattr(cls, name, real)


def take_over(harness, run_id):
    """The lease runs out; the reaper re-queues the run and another worker executes it."""
    from sqlalchemy import update  # noqa: PLC0415

    from connectors.jobs import runs  # noqa: PLC0415
    from connectors.jobs.execute import execute_run  # noqa: PLC0415
    from connectors.models import JobRun  # noqa: PLC0415

    with transaction(harness.factory) as s:
        s.execute(update(JobRun).where(JobRun.id == run_id).values(lease_until=JobRun.queued_at))
    assert runs.reap_expired(harness.factory) == [run_id]
    fresh = runs.claim(harness.factory, run_id, "worker-b", 30, attempt=1)
    execute_run(harness.factory, harness.registry, harness.box, fresh, 30)
    return harness.result(run_id)
