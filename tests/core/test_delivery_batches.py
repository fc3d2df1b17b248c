"""A window of events planned and claimed in one transaction; outcomes group-committed.

The dispatcher's fast path must keep the ledger's rules: one row per (job, event) however often
the window comes again, rows held by the claiming worker, a claimer that dies leaves rows that
are settled by ``verify`` (never resent blindly), and an outcome is only written while the row
is still held."""
import threading
from datetime import timedelta

from sqlalchemy import select, update

from connectors.db import transaction
from connectors.jobs import deliveries
from connectors.jobs.delivery_batches import plan_and_claim, reacts
from connectors.jobs.delivery_outcomes import outcomes
from connectors.models import Delivery, Job, StatusChangeEvent, utcnow

from . import sample_plugin
from .test_deliveries import activity_job, change_status, harness, states  # noqa: F401 - the fixture


def event_ids(h) -> list[str]:
    return [e["id"] for e in h.status_events()]


def test_a_window_is_planned_and_claimed_once(harness):
    attended = activity_job(harness, activity="Attended", status_filter=["Attended"])
    activity_job(harness, activity="Any")
    change_status(harness, "New")
    change_status(harness, "Attended")
    window = event_ids(harness)
    claims = plan_and_claim(harness.factory, harness.registry, window + window[:1], "w1", 60)
    assert len(claims) == 4 + 2  # "Any" gets the four events, "Attended" the two changes to Attended
    assert plan_and_claim(harness.factory, harness.registry, window, "w2", 60) == []  # redelivered: nothing new
    with harness.factory() as s:
        rows = list(s.scalars(select(Delivery)))
    assert {(r.state, r.worker, r.attempts) for r in rows} == {("sending", "w1", 1)}
    assert all(r.lease_until > utcnow() for r in rows)
    assert sum(1 for r in rows if r.job_id == attended) == 2
    # what the send reads came with the claim: the registration the event is about, with its person
    claim = claims[0]
    [view] = claim.registrations.values()
    assert view.registration_code == claim.payload["registration_code"] and view.profile["email"]
    assert [deliveries.send(harness.factory, harness.registry, harness.box, c, "w1") for c in claims] == ["sent"] * 6
    assert len(sample_plugin.SENT) == 6 and states(harness) == ["sent"] * 6


def test_a_claimer_that_dies_before_sending_leaves_rows_that_verify_sends_once(harness):
    activity_job(harness)
    change_status(harness, "New")
    claims = plan_and_claim(harness.factory, harness.registry, event_ids(harness), "dead", 60)
    with transaction(harness.factory) as s:  # the claimer died: its leases run out
        s.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
    settled = deliveries.settle_interrupted(harness.factory, harness.registry, harness.box)
    assert settled == {c.delivery_id: "pending" for c in claims}  # verify: not sent, so it may be sent
    assert [deliveries.deliver(harness.factory, harness.registry, harness.box, c.delivery_id, "w2")
            for c in claims] == ["sent", "sent"]
    assert len(sample_plugin.SENT) == 2
    # the dead claimer's sender, had it woken up, could not record over the settled rows
    assert deliveries.send(harness.factory, harness.registry, harness.box, claims[0], "dead") == "lost"


def test_outcomes_of_many_senders_are_each_recorded_only_while_held(harness):
    activity_job(harness)
    change_status(harness, "New")
    change_status(harness, "Attended")
    claims = plan_and_claim(harness.factory, harness.registry, event_ids(harness), "w1", 60)
    with transaction(harness.factory) as s:  # one row was settled by someone else meanwhile
        s.execute(update(Delivery).where(Delivery.id == claims[0].delivery_id).values(state="uncertain", worker=None))
    results: dict[int, bool] = {}

    def record(delivery_id: int) -> None:
        results[delivery_id] = outcomes.record(harness.factory, delivery_id, "w1", {
            "state": "sent", "last_error": None, "remote_id": f"r{delivery_id}", "next_attempt_at": None,
            "worker": None, "lease_until": None, "updated_at": utcnow()})

    threads = [threading.Thread(target=record, args=(c.delivery_id,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {c.delivery_id: c is not claims[0] for c in claims}
    assert states(harness) == ["sent"] * (len(claims) - 1) + ["uncertain"]


def test_a_group_of_outcomes_is_written_in_one_go_each_to_its_own_row(harness):
    from connectors.jobs.delivery_outcomes import OutcomeRecorder, _Outcome

    activity_job(harness)
    change_status(harness, "New")
    change_status(harness, "Attended")
    a, b, c, d = (claim.delivery_id for claim in
                  plan_and_claim(harness.factory, harness.registry, event_ids(harness), "w1", 60))
    with transaction(harness.factory) as s:  # d was settled by someone else meanwhile
        s.execute(update(Delivery).where(Delivery.id == d).values(state="uncertain", worker=None))
    later = utcnow() + timedelta(seconds=5)

    def outcome(delivery_id, state, remote_id=None, error=None, next_at=None):
        return _Outcome(delivery_id, "w1", {"state": state, "last_error": error, "remote_id": remote_id,
                                            "next_attempt_at": next_at, "worker": None, "lease_until": None,
                                            "updated_at": utcnow()})

    batch = [outcome(a, "sent", "r-a"), outcome(b, "failed", error="503", next_at=later), outcome(c, "sent", "r-c"),
             outcome(d, "sent", "r-d")]
    OutcomeRecorder._write(harness.factory, batch)
    assert [o.recorded for o in batch] == [True, True, True, False]
    with harness.factory() as s:
        rows = {r.id: r for r in s.scalars(select(Delivery))}
    assert (rows[a].state, rows[a].remote_id, rows[c].state, rows[c].remote_id) == ("sent", "r-a", "sent", "r-c")
    assert (rows[b].state, rows[b].last_error, rows[b].remote_id) == ("failed", "503", None)
    assert (rows[d].state, rows[d].remote_id) == ("uncertain", None)
    assert all(rows[i].worker is None and rows[i].lease_until is None for i in (a, b, c))


def test_an_account_level_job_takes_only_its_own_accounts_events(harness):
    """A window mixes the events of several accounts; a job with no event of its own (account
    level) must not take another account's, even of an event with the same code."""
    job = Job(account_id=1, event_id=None, job_type="sample.activity", params={})
    ours = StatusChangeEvent(id="evt_a", type="registration.status_changed", account_id=1, event_id=7,
                             occurred_at=utcnow(), payload={"current": {"status": "Attended"}})
    theirs = StatusChangeEvent(id="evt_b", type="registration.status_changed", account_id=2, event_id=8,
                               occurred_at=utcnow(), payload={"current": {"status": "Attended"}})
    assert reacts(harness.registry, job, ours)
    assert not reacts(harness.registry, job, theirs)
