"""Counts that match the data after a crash and resume (issue 11, point 6), for the resumable
Eloqua jobs: a worker dies at a run commit — the commit refused, as a killed process never makes
it, so its work since the previous commit is lost while what it did in Eloqua stays — the lease
runs out, another worker resumes, and the run succeeds with counters that sum to the records it
processed and ``created`` equal to the registrations (store) or contacts (sandbox) it created,
nothing twice. Crash points are conditions on the run's own state, never sleeps.

While no worker watches, Eloqua goes on: the sandbox moves a sync only when it is polled, so
after the crash every sync started is run to its end (``eloqua_goes_on``) before the next worker
takes over — the case "sync started, checkpoint not saved" then has contacts the dead attempt
created, which the run must count ``created`` without importing its batch again. The metrics
jobs share those batches (``bulk_batches``); Update Eloqua Contact List is checked with a batch
Eloqua added (or took out) but the run never committed.
"""
from __future__ import annotations

from collections import Counter

import pytest

from connectors import LeaseLost
from connectors.jobs.context import JobContext
from connectors_eloqua.jobs import contact_list, engagement, id_ranges, interest
from connectors_eloqua.jobs.create_update_contacts import KEY as CONTACTS
from connectors_eloqua.jobs.import_contacts import REGISTRATIONS_KEY
from connectors_eloqua.sandbox import ENGAGEMENT_OBJECT, INTEREST_OBJECT, INVITEES_LIST, NEWSLETTER_LIST

from .outbound_support import ATTENDEES, seed_attendees, take_over, uploaded_rows
from .test_eloqua_contact_list import invitee_emails, members_by_email, register
from .test_eloqua_metrics import expected_interest, stored_scores

MEMBERS = 300  # the sandbox's invitees list


def die_at(monkeypatch, when):
    """The worker dies, once, at the first run commit for which ``when(ctx, final)`` holds."""
    real, died = JobContext.commit, []

    def commit(ctx, **final):
        if not died and when(ctx, bool(final)):
            died.append(dict(ctx.counters))
            raise LeaseLost("worker killed")  # nothing since the previous commit is kept
        real(ctx, **final)

    monkeypatch.setattr(JobContext, "commit", commit)
    return died


def after(n):
    return lambda ctx, final: sum(ctx.counters.values()) >= n


def at_the_end(ctx, final):
    return final


def stage(name):
    """The commit that would save a batch's in-flight stage ``name`` ("created": its definition,
    "uploaded": its staged rows, "started": its sync): Eloqua has it, the run would not know."""
    def at_stage(ctx, final):
        pending = (ctx.checkpoint.load() or {}).get("pending")
        return bool(pending) and pending.get("stage") == name
    return at_stage


def eloqua_goes_on(sandbox):
    """What Eloqua does while no worker watches: every sync started runs to its end (the sandbox
    moves a sync only when it is polled; real Eloqua does not wait to be asked)."""
    for sync in list(sandbox.bulk.syncs.values()):
        sandbox.bulk.settle(sync)


def assert_each_batch_imported_once(sandbox, rows, entity="contacts"):
    """Every row went through one import sync (of ``entity``), and no definition was synced twice."""
    imports = [sync for sync in sandbox.bulk.syncs.values()
               if sync.definition.kind == "imports" and sync.definition.entity == entity]
    assert sum(len(sync.rows) for sync in imports if sync.status in ("success", "warning")) == rows
    assert max(Counter(sync.definition.id for sync in imports).values()) == 1


def crash_and_resume(h, monkeypatch, job_type, params, when, sandbox=None):
    died = die_at(monkeypatch, when)
    run_id = h.submit(job_type, params)
    assert h.execute(run_id).status == "running" and died, "the worker never reached the crash point"
    if sandbox is not None:
        eloqua_goes_on(sandbox)
    result = take_over(h, run_id)
    assert result.status == "succeeded", result.error
    return result


IMPORT_POINTS = {"after the first page": after(101), "mid-way": after(MEMBERS // 2), "at the end": at_the_end}


@pytest.mark.parametrize("point", IMPORT_POINTS, ids=list(IMPORT_POINTS))
def test_contact_import_counts_each_contact_once_across_a_crash(harness, monkeypatch, point):
    params = {"contact_list_name": INVITEES_LIST, "page_size": 100}
    result = crash_and_resume(harness, monkeypatch, REGISTRATIONS_KEY, params, IMPORT_POINTS[point])
    registrations = harness.registrations()
    assert sum(result.counters.values()) == MEMBERS
    assert result.counters.get("created") == len(registrations) == len(harness.profiles())
    assert len({r["profile_id"] for r in registrations}) == len(registrations)


CONTACT_POINTS = {"after the first batch": after(1), "with a definition created": stage("created"),
                  "with its rows uploaded": stage("uploaded"), "with a sync started": stage("started"),
                  "mid-way": after(ATTENDEES // 2), "at the end": at_the_end}


@pytest.mark.parametrize("point", CONTACT_POINTS, ids=list(CONTACT_POINTS))
def test_create_update_contacts_counts_the_contacts_it_created_across_a_crash(harness, sandbox, monkeypatch, point):
    seed_attendees(harness)
    before = len(sandbox.all_contacts())
    result = crash_and_resume(harness, monkeypatch, CONTACTS, {"batch_size": 50}, CONTACT_POINTS[point], sandbox)
    contacts = sandbox.all_contacts()
    assert sum(result.counters.values()) == ATTENDEES
    assert result.counters == {"created": len(contacts) - before} and len(contacts) - before == ATTENDEES
    emails = Counter(str(c.get("C_EmailAddress") or c.get("emailAddress") or "").lower() for c in contacts[before:])
    assert max(emails.values()) == 1
    assert_each_batch_imported_once(sandbox, ATTENDEES)
    resent = 50 if point == "with its rows uploaded" else 0  # the one stage whose rows the checkpoint cannot vouch for
    assert len(uploaded_rows(sandbox)) == ATTENDEES + resent


METRICS_POINTS = {"after the first batch": after(1), "with a definition created": stage("created"),
                  "with its rows uploaded": stage("uploaded"), "with a sync started": stage("started"),
                  "at the end": at_the_end}


@pytest.fixture
def contacts_sent(harness):
    """The programme's registrations, already sent to Eloqua as contacts (the metrics link to them)."""
    seed_attendees(harness)
    assert harness.run(CONTACTS, {}).status == "succeeded"
    return harness


@pytest.mark.parametrize("point", METRICS_POINTS, ids=list(METRICS_POINTS))
def test_engagement_counts_the_records_it_created_across_a_crash(contacts_sent, sandbox, monkeypatch, point):
    result = crash_and_resume(contacts_sent, monkeypatch, engagement.KEY, {"batch_size": 50}, METRICS_POINTS[point],
                              sandbox)
    stored = sandbox.custom_object_records(sandbox.find_custom_object(ENGAGEMENT_OBJECT))
    assert sum(result.counters.values()) == ATTENDEES
    assert result.counters == {"created": len(stored)} and len(stored) == ATTENDEES
    assert max(Counter(r["EngagementKey"] for r in stored).values()) == 1
    assert_each_batch_imported_once(sandbox, ATTENDEES, "customObjects")


@pytest.mark.parametrize("point", ["with a sync started", "at the end"])
def test_interest_counts_the_records_it_created_across_a_crash(contacts_sent, sandbox, monkeypatch, point):
    result = crash_and_resume(contacts_sent, monkeypatch, interest.KEY, {"batch_size": 100}, METRICS_POINTS[point],
                              sandbox)
    non_zero = {key: score for key, score in expected_interest(contacts_sent).items() if score}
    assert result.counters == {"created": len(non_zero)}
    assert stored_scores(sandbox) == non_zero
    stored = sandbox.custom_object_records(sandbox.find_custom_object(INTEREST_OBJECT))
    assert len(stored) == len(non_zero) == len({r["InterestKey"] for r in stored})


def adding_a_batch(ctx, final):
    """The commit that marks a batch's sync action as about to run."""
    return bool((ctx.checkpoint.load() or {}).get("adding"))


def removed(ctx, final):
    """The commit after the first sync action that took members out: Eloqua did it, the run would not know."""
    return ctx.counters.get("updated", 0) > 0


LIST_POINTS = {"with a batch about to be added": adding_a_batch, "after the first batch": after(1),
               "mid-way": after(18), "at the end": at_the_end}


@pytest.mark.parametrize("point", LIST_POINTS, ids=list(LIST_POINTS))
def test_contact_list_counts_the_members_it_added_across_a_crash(harness, sandbox, monkeypatch, point):
    monkeypatch.setattr(contact_list, "BATCH", 10)
    emails = invitee_emails(sandbox, 35)
    register(harness, [*emails, None, emails[3].upper()])  # one without an email, one twice: both skipped
    result = crash_and_resume(harness, monkeypatch, contact_list.KEY, {"contact_list_name": "Crash list"},
                              LIST_POINTS[point], sandbox)
    assert sum(result.counters.values()) == 37
    members = sandbox.list_members(sandbox.find_list("Crash list"))
    assert result.counters == {"created": len(members), "skipped": 2} and len(members) == 35 == len(set(members))


@pytest.mark.parametrize("point", ["after the first batch", "while removing", "at the end"])
def test_contact_list_sync_counts_what_it_added_and_took_out_across_a_crash(harness, sandbox, monkeypatch, point):
    monkeypatch.setattr(contact_list, "BATCH", 10)
    newsletter = sandbox.find_list(NEWSLETTER_LIST)
    before = sandbox.list_members(newsletter)
    staying = [sandbox.contact(i)["C_EmailAddress"] for i in before[:10]]
    outsiders = [e for e in invitee_emails(sandbox, 60) if sandbox.find_contact(e)["id"] not in before][:15]
    register(harness, [*staying, *outsiders])
    when = removed if point == "while removing" else {"after the first batch": after(1), "at the end": at_the_end}[point]
    result = crash_and_resume(harness, monkeypatch, contact_list.KEY, {"contact_list_id": newsletter, "mode": "sync"},
                              when, sandbox)
    assert len(before) - 10 > 10  # the removal takes more than one sync action
    assert result.counters == {"unchanged": 10, "created": 15, "updated": len(before) - 10}
    assert members_by_email(sandbox, newsletter) == sorted(e.lower() for e in [*staying, *outsiders])


def test_the_sets_a_checkpoint_keeps_are_ranges_and_give_up_past_the_cap(monkeypatch):
    taken = id_ranges.IdRanges()
    taken.add([5, 3, 4, 9])
    taken.add(range(6, 9))
    assert taken.saved() == [[3, 9]] and 6 in taken and "7" in taken and 2 not in taken and None not in taken
    assert id_ranges.IdRanges(taken.saved()).saved() == [[3, 9]]
    monkeypatch.setattr(id_ranges, "MAX_RANGES", 2)
    taken.add([20, 40])  # a third range: kept no longer, and the caller then skips nothing
    assert taken.saved() is None and 5 not in taken
