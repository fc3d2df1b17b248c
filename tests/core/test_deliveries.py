"""Status-change events to event-triggered jobs: planned once, sent once, never resent blindly."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from connectors import JobFailed
from connectors.db import transaction
from connectors.jobs import deliveries
from connectors.jobs.submit import set_enabled
from connectors.models import Delivery, Job, StatusChangeEvent, utcnow
from connectors.testing import Harness

from . import sample_plugin

PEOPLE = [{"id": "1", "email": "ann@example.com", "first": "Ann"}, {"id": "2", "email": "bob@example.com", "first": "Bob"}]


@pytest.fixture
def harness(engine, db_url, tmp_path):
    sample_plugin.SENT.clear()
    sample_plugin.BEHAVIOUR.clear()
    sample_plugin.BEHAVIOUR["next"] = None
    h = Harness(tmp_path, plugins={"sample": sample_plugin}, database_url=db_url)
    h.configure("sample", {"url": "http://sample", "token": "t"})
    yield h
    h.close()


def activity_job(h, **params) -> int:
    """An event-triggered job: submitted like any job; its run does nothing, events drive it."""
    run_id = h.submit("sample.activity", params)
    with h.factory() as s:
        from connectors.models import JobRun
        return s.get(JobRun, run_id).job_id


def change_status(h, status="Attended"):
    return h.run("sample.import_people", {"people": PEOPLE, "status_label": status, "overwrite_status": True})


def plan_all(h):
    with h.factory() as s:
        ids = list(s.scalars(select(StatusChangeEvent.id).order_by(StatusChangeEvent.occurred_at)))
    return [d for i in ids for d in deliveries.plan_event(h.factory, h.registry, i)]


def states(h):
    with h.factory() as s:
        return sorted(s.scalars(select(Delivery.state)))


def test_events_are_planned_once_for_matching_jobs_only(harness):
    attended = activity_job(harness, activity="Attended", status_filter=["Attended"])
    activity_job(harness, activity="Any")
    disabled = activity_job(harness, activity="Off")
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, disabled), False)
    change_status(harness, "New")       # two registrations created as New
    change_status(harness, "Attended")  # and changed to Attended
    planned = plan_all(harness)
    assert len(planned) == 2 * 2 + 2    # "Any" gets all four events, "Attended" the two changes
    assert plan_all(harness) == []      # a redelivered message plans nothing new
    with harness.factory() as s:
        assert len(list(s.scalars(select(Delivery).where(Delivery.job_id == attended)))) == 2


def test_delivered_exactly_once(harness):
    activity_job(harness)
    change_status(harness, "New")
    ids = plan_all(harness)
    assert [deliveries.deliver(harness.factory, harness.registry, harness.box, i, "w1") for i in ids] == ["sent", "sent"]
    assert [deliveries.deliver(harness.factory, harness.registry, harness.box, i, "w2") for i in ids] == ["skipped", "skipped"]
    assert len(sample_plugin.SENT) == 2
    with harness.factory() as s:
        assert sorted(s.scalars(select(Delivery.remote_id))) == ["act-1", "act-2"]


def test_failures_are_retried_later_then_parked_then_retried_by_an_admin(harness):
    activity_job(harness)
    change_status(harness, "New")
    first, _ = plan_all(harness)
    sample_plugin.BEHAVIOUR["next"] = ConnectionError("target down")
    assert deliveries.deliver(harness.factory, harness.registry, harness.box, first, "w") == "failed"
    assert first not in deliveries.due(harness.factory)                      # not before its retry time
    assert first in deliveries.due(harness.factory, now=utcnow() + timedelta(seconds=6))
    with transaction(harness.factory) as s:                                  # the last allowed attempt
        s.execute(update(Delivery).where(Delivery.id == first).values(attempts=deliveries.MAX_ATTEMPTS - 1,
                                                                      next_attempt_at=utcnow()))
    assert deliveries.deliver(harness.factory, harness.registry, harness.box, first, "w") == "parked"
    sample_plugin.BEHAVIOUR["next"] = None
    with transaction(harness.factory) as s:
        assert deliveries.retry(s, s.get(Delivery, first))
    assert deliveries.deliver(harness.factory, harness.registry, harness.box, first, "w") == "sent"
    assert len(sample_plugin.SENT) == 1


def test_a_plugin_that_says_retrying_cannot_help_parks_at_once(harness):
    activity_job(harness)
    change_status(harness, "New")
    first, _ = plan_all(harness)
    sample_plugin.BEHAVIOUR["next"] = JobFailed("activity type 'Attended' does not exist in Eloqua", code="ELQ-00070")
    assert deliveries.deliver(harness.factory, harness.registry, harness.box, first, "w") == "parked"
    with harness.factory() as s:
        assert s.get(Delivery, first).last_error.startswith("ELQ-00070")


@pytest.mark.parametrize("happened,expected,sends", [(True, "sent", 1), (False, "sent", 2), (None, "parked", 1)])
def test_a_worker_dying_mid_send_is_settled_without_a_blind_resend(harness, happened, expected, sends):
    activity_job(harness)
    change_status(harness, "New")
    first, _ = plan_all(harness)
    # the worker claimed the row and called the target, then died before recording it
    with transaction(harness.factory) as s:
        s.execute(update(Delivery).where(Delivery.id == first).values(
            state="sending", worker="dead", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))
    event_id = harness.status_events()[0]["id"]
    sample_plugin.SENT.append(("Registered", event_id))
    sample_plugin.BEHAVIOUR["verify"] = happened
    settled = deliveries.settle_interrupted(harness.factory, harness.registry, harness.box)
    assert settled == {first: {True: "sent", False: "pending", None: "parked"}[happened]}
    deliveries.deliver(harness.factory, harness.registry, harness.box, first, "w2")  # sends only if pending
    with harness.factory() as s:
        assert s.get(Delivery, first).state == expected
    assert len(sample_plugin.SENT) == sends


def test_replay_catches_up_a_job_that_was_disabled(harness):
    job_id = activity_job(harness)
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), False)
    since = utcnow() - timedelta(seconds=1)
    change_status(harness, "New")
    assert plan_all(harness) == []
    with transaction(harness.factory) as s:
        job = s.get(Job, job_id)
        set_enabled(s, job, True)
        assert len(deliveries.replay(s, harness.registry, job, since)) == 2
        assert deliveries.replay(s, harness.registry, job, since) == []  # nothing twice


def test_a_disabled_jobs_deliveries_wait_until_it_is_enabled_again(harness):
    job_id = activity_job(harness)
    change_status(harness, "New")
    ids = plan_all(harness)
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), False)
    assert deliveries.due(harness.factory) == []
    assert [deliveries.deliver(harness.factory, harness.registry, harness.box, i, "w1") for i in ids] == ["skipped"] * 2
    assert sample_plugin.SENT == [] and states(harness) == ["pending", "pending"]
    with transaction(harness.factory) as s:
        set_enabled(s, s.get(Job, job_id), True)
    assert deliveries.due(harness.factory) == ids
    assert [deliveries.deliver(harness.factory, harness.registry, harness.box, i, "w1") for i in ids] == ["sent"] * 2
