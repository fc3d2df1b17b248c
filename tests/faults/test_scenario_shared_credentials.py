"""Two tenants sharing credentials: accounts A and B configure the same Marketo instance with the
same client id, B with a wrong secret. Through the production worker (one process, so one
process-wide token cache for both), A's import must succeed, B's must fail on authentication —
A's cached token must never serve B — and nothing of A may appear in B."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from connectors.db import transaction
from connectors.jobs.submit import submit
from connectors.models import Event, JobRun, Profile, Registration
from connectors.seed import configure_plugin, get_or_create_account, get_or_create_event
from connectors_marketo.sandbox import start_sandbox

from .support import dead_letters, dead_queue_depth, record_recovery, run_of, wait_until

IMPORT = "marketo.import_leads_as_registrations"


def tenant(stack, code: str, connection: dict) -> int:
    services = stack.services
    with transaction(services.factory) as s:
        account = get_or_create_account(s, code, f"Tenant {code}")
        event = get_or_create_event(s, account, f"{code}26", f"Tenant {code} summit")
        configure_plugin(s, services.registry, services.box, account, "marketo", connection)
        return event.id


def import_leads(stack, event_id: int) -> int:
    with transaction(stack.services.factory) as s:
        event = s.get(Event, event_id)
        job_id = submit(s, stack.services.registry, account=event.account, event=event, job_type_key=IMPORT,
                        params={"static_list_name": "SUMMIT26 Invitees", "page_size": 100}, via="faults").id
    with stack.services.factory() as s:
        return s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))


def finished(stack, run_id: int):
    return (r := run_of(stack.services, run_id)).status not in ("queued", "running") and r


def rows_of(stack, event_id: int) -> tuple[int, int]:
    """(registrations of the event, profiles of its account)."""
    with stack.services.factory() as s:
        event = s.get(Event, event_id)
        regs = s.scalar(select(func.count()).select_from(Registration).where(Registration.event_id == event_id))
        profiles = s.scalar(select(func.count()).select_from(Profile).where(Profile.account_id == event.account_id))
        return regs, profiles


def test_two_tenants_with_one_client_id_and_different_secrets_stay_apart(stack):
    stack.build(people=5)
    marketo = start_sandbox(port=0)
    try:
        a = tenant(stack, "TENA", marketo.connection)
        b = tenant(stack, "TENB", {**marketo.connection, "client_secret": "not-the-secret"})
        stack.start("relay", "worker")
        started = time.monotonic()
        run_a = import_leads(stack, a)
        done_a = wait_until(lambda: finished(stack, run_a), 120, "A's import")
        run_b = import_leads(stack, b)  # the worker now holds A's token for this client id
        done_b = wait_until(lambda: finished(stack, run_b), 120, "B's import")
        run_a2 = import_leads(stack, a)  # and A again, after B's failed login
        again_a = wait_until(lambda: finished(stack, run_a2), 120, "A's second import")
        record_recovery("two tenants sharing a client id", "B's wrong secret: both verdicts and A again",
                        time.monotonic() - started)
    finally:
        marketo.stop()
    assert (done_a.status, done_a.counters.get("created")) == ("succeeded", 494), done_a.error
    assert done_b.status == "failed", (done_b.status, done_b.counters)
    assert "Bad client credentials" in (done_b.error or ""), done_b.error  # says why
    assert rows_of(stack, b) == (0, 0)  # nothing of A in B
    assert rows_of(stack, a)[0] == 494
    assert (again_a.status, again_a.counters) == ("succeeded", {"unchanged": 494, "skipped": 26}), again_a.error
    assert dead_letters(stack.services) == []
    assert dead_queue_depth(stack.broker_url, stack.namespace) == 0
