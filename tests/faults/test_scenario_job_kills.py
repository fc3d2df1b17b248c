"""Fault: ``connectors worker`` SIGKILLed at two points of each resumable job — once its first
checkpoint is saved, once its progress is past half — and a fresh worker started after each kill
(issue 11, point 6: the in-process crash tests of tests/plugins/*/test_*_crash_counts.py, here with
real processes, a real lease running out and the sandboxes in processes of their own).

Each case must end ``succeeded`` on attempt 2 with counters that sum to the records processed,
``created`` equal to what really exists — registrations and profiles in the store for an import;
leads, contacts, custom-object records or list members in the sandbox for an outbound job —
nothing twice in either, and nothing dead-lettered. The points are conditions on the run's own
counters and checkpoint, polled in the database; the sandboxes' per-call latency keeps commits
apart so that a kill lands mid-run. Recovery: from the replacement worker's start to the run
moving past what the killed one had committed.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from sqlalchemy import select

from connectors.models import Profile

from .support import (ForkedSandbox, count_rows, dead_letters, dead_queue_depth, record_recovery, registrations_of,
                      run_of, wait_until)

MARKETO_IMPORT = "marketo.import_leads_as_registrations"
MARKETO_LEADS = "marketo.create_update_leads"
MARKETO_ENGAGEMENT = "marketo.upload_engagement_metrics"
ELOQUA_CONTACTS = "eloqua.create_update_contacts"
ELOQUA_LIST = "eloqua.update_contact_list"
CRASH_LIST = "Crash list"


# -- what runs in the sandboxes' processes (module-level: ``ask`` pickles them by name) -----------------------
def marketo_sandbox(latency: float) -> Callable[[], Any]:
    def start() -> Any:
        from connectors_marketo.sandbox import start_sandbox

        sandbox = start_sandbox(rate_limit=None, daily_quota=None)
        sandbox.latency = latency
        return sandbox
    return start


def eloqua_sandbox(latency: float) -> Callable[[], Any]:
    def start() -> Any:
        from connectors_eloqua.sandbox import start_sandbox

        sandbox = start_sandbox()
        sandbox.set_latency(latency)
        return sandbox
    return start


def marketo_list_of(leads: int) -> Callable[[Any], int]:
    """``leads`` new leads, each with an email of its own, in the static list ``CRASH_LIST``: its id."""
    def prepare(sandbox: Any) -> int:
        added = sandbox.add_leads({"email": f"crash{i}@example.com", "firstName": f"Crash{i}", "lastName": "Kill"}
                                  for i in range(leads))
        return sandbox.add_list(CRASH_LIST, [lead["id"] for lead in added])["id"]
    return prepare


def marketo_engagement_object(sandbox: Any) -> None:
    from tests.plugins.marketo.test_marketo_metrics import deploy_engagement_object

    deploy_engagement_object(sandbox)


def marketo_add_leads(sandbox: Any, registrations: list[tuple[str, str]]) -> None:
    """Leads carrying the registrations' codes, as Create or Update Leads leaves them."""
    sandbox.add_leads({"email": email, "certainAttendeeId": code} for email, code in registrations)


def marketo_lead_emails(sandbox: Any) -> list[str]:
    return [str(lead.get("email") or "").lower() for lead in sandbox.leads]


def marketo_engagement_keys(sandbox: Any) -> list[tuple[str, str]]:
    from connectors_marketo.jobs.engagement import DEFAULT_OBJECT

    return [(r["attendeeId"], r["eventCode"]) for r in sandbox.custom_object_records(DEFAULT_OBJECT)]


def eloqua_contact_emails(sandbox: Any) -> list[str]:
    return [str(c.get("C_EmailAddress") or c.get("emailAddress") or "").lower() for c in sandbox.all_contacts()]


def eloqua_add_contacts(sandbox: Any, emails: list[str]) -> None:
    sandbox.add_contacts({"C_EmailAddress": email, "C_LastName": "Kill"} for email in emails)


def eloqua_list_members(sandbox: Any, name: str) -> list[int]:
    found = sandbox.find_list(name)
    return sandbox.list_members(found) if found else []


# -- what is in the store --------------------------------------------------------------------------------------
def seed_attendees(stack: Any, attendees: int) -> list[tuple[str, str]]:
    """The demo programme with ``attendees`` registrations in ``JOBS26``: (email, code) of each."""
    from connectors.db import transaction
    from connectors.demo_agenda import seed_programme
    from connectors.models import Event, Registration

    with transaction(stack.services.factory) as s:
        event = s.get(Event, stack.event_id)
        seed_programme(s, event.account, event, attendees=attendees)
    with stack.services.factory() as s:
        return [(email, code) for email, code in s.execute(
            select(Profile.email, Registration.registration_code).join(Profile, Profile.id == Registration.profile_id)
            .where(Registration.event_id == stack.event_id)).all()]


def counted(run: Any) -> int:
    return sum((run.counters or {}).values())


# -- the cases -------------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One resumable job: its sandboxes, its data, its parameters and what must hold at the end."""

    job_type: str
    records: int  # what the run processes: its counters must sum to this
    sandboxes: dict[str, ForkedSandbox] = field(default_factory=dict)
    params: Callable[[Any], dict[str, Any]] = lambda stack: {}
    seed: Callable[[Any], None] = lambda stack: None
    check: Callable[[Any, Any], None] = lambda stack, run: None
    first_point: tuple[str, Callable[[Any], bool]] = ("first checkpoint saved",
                                                     lambda run: bool(run.checkpoint) and counted(run) > 0)


def marketo_import(mode: str, leads: int, page: int = 100, latency: float = 0.1) -> Case:
    def check(stack: Any, run: Any) -> None:
        assert run.counters.get("created") == leads, run.counters
        assert registrations_of(stack.services, stack.event_id) == (leads, leads)  # 0 lost, 0 twice
        assert count_rows(stack.services, Profile) == leads  # no profile created twice

    return Case(MARKETO_IMPORT, leads, {"marketo": ForkedSandbox(marketo_sandbox(latency), marketo_list_of(leads))},
                params=lambda stack: {"static_list_id": stack.sandboxes["marketo"].prepared, "page_size": page,
                                      "mode": mode, "bulk_threshold": 1},
                check=check)


def marketo_leads(attendees: int = 900) -> Case:  # three Sync Leads calls of 300
    box = ForkedSandbox(marketo_sandbox(0.4))
    before: list[str] = []

    def seed(stack: Any) -> None:
        seed_attendees(stack, attendees)
        before.extend(box.ask(marketo_lead_emails))

    def check(stack: Any, run: Any) -> None:
        emails = box.ask(marketo_lead_emails)
        assert run.counters == {"created": len(emails) - len(before)} and len(emails) - len(before) == attendees
        assert max((Counter(emails) - Counter(before)).values()) == 1  # nothing twice in Marketo

    return Case(MARKETO_LEADS, attendees, {"marketo": box}, seed=seed, check=check)


def marketo_engagement(attendees: int = 900) -> Case:  # three custom-object upserts of 300
    box = ForkedSandbox(marketo_sandbox(0.4), marketo_engagement_object)

    def seed(stack: Any) -> None:
        box.ask(marketo_add_leads, seed_attendees(stack, attendees))

    def check(stack: Any, run: Any) -> None:
        keys = box.ask(marketo_engagement_keys)
        assert run.counters == {"created": len(keys)} and len(keys) == attendees
        assert max(Counter(keys).values()) == 1

    return Case(MARKETO_ENGAGEMENT, attendees, {"marketo": box}, seed=seed, check=check)


def eloqua_contacts(attendees: int = 150, batch: int = 50) -> Case:
    box = ForkedSandbox(eloqua_sandbox(0.02))
    before: list[str] = []

    def seed(stack: Any) -> None:
        seed_attendees(stack, attendees)
        before.extend(box.ask(eloqua_contact_emails))

    def check(stack: Any, run: Any) -> None:
        emails = box.ask(eloqua_contact_emails)
        assert run.counters == {"created": len(emails) - len(before)} and len(emails) - len(before) == attendees
        assert max(Counter(e for e in emails if e).values()) == 1  # nothing twice in Eloqua

    return Case(ELOQUA_CONTACTS, attendees, {"eloqua": box}, params=lambda stack: {"batch_size": batch},
                seed=seed, check=check)


def eloqua_contact_list(attendees: int = 5500) -> Case:  # two batches: the job's BATCH is 5000
    """Every registration's contact already in Eloqua (the job puts contacts in a list, it creates none)."""
    box = ForkedSandbox(eloqua_sandbox(0.05))

    def seed(stack: Any) -> None:
        box.ask(eloqua_add_contacts, [email for email, _ in seed_attendees(stack, attendees)])

    def check(stack: Any, run: Any) -> None:
        members = box.ask(eloqua_list_members, CRASH_LIST)
        assert run.counters == {"created": len(members)} and len(members) == attendees == len(set(members))

    return Case(ELOQUA_LIST, attendees, {"eloqua": box}, params=lambda stack: {"contact_list_name": CRASH_LIST},
                seed=seed, check=check,
                first_point=("a batch about to be added", lambda run: bool((run.checkpoint or {}).get("adding"))))


CASES: dict[str, Callable[[], Case]] = {
    "marketo import rest": lambda: marketo_import("rest", 600),
    "marketo import bulk": lambda: marketo_import("bulk", 2500, page=300, latency=0.05),
    "marketo create-update leads": marketo_leads,
    "marketo engagement metrics": marketo_engagement,
    "eloqua create-update contacts": eloqua_contacts,
    "eloqua update contact list": eloqua_contact_list,
}


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_a_worker_killed_at_two_points_of_a_resumable_job_counts_what_it_did(stack, name):
    case = CASES[name]()
    stack.build_with(case.sandboxes)
    case.seed(stack)
    stack.start("relay", "worker")
    run_id = stack.submit(case.job_type, case.params(stack))

    def run() -> Any:
        return run_of(stack.services, run_id)

    points = [case.first_point, ("progress past half", lambda r: counted(r) >= case.records // 2)]
    label = "worker"
    for attempt, (point, reached) in enumerate(points, start=1):
        wait_until(lambda: reached(run()), 120, f"{name} to reach: {point}", step=0.05)
        stack.processes.kill(label)
        left = counted(run())
        assert run().status == "running", f"{name} ended before the kill at: {point}"
        label = f"worker-{attempt + 1}"
        restarted = time.monotonic()
        stack.processes.start("worker", label)
        wait_until(lambda: (r := run()).attempt == attempt and (counted(r) > left or r.status == "succeeded"),
                   120, f"attempt {attempt} to resume past {left} records")
        record_recovery("worker SIGKILL in a resumable job", f"{name}: {point}", time.monotonic() - restarted,
                        lease_seconds=stack.env["CONNECTORS_LEASE_SECONDS"], records=case.records, left=left)

    done = wait_until(lambda: (r := run()).status not in ("queued", "running") and r, 180, f"{name} to finish")
    assert (done.status, done.attempt) == ("succeeded", len(points)), done.error
    assert counted(done) == case.records, done.counters  # each record counted once
    case.check(stack, done)
    assert dead_letters(stack.services) == []
    assert dead_queue_depth(stack.broker_url, stack.namespace) == 0
