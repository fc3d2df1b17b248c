"""An administrator's decisions on deliveries are compare-and-sets on the state they saw: a row a
worker settled meanwhile is left as the worker left it (never sent twice)."""
import pytest
from sqlalchemy import update

from connectors.db import transaction
from connectors.jobs import delivery_decisions
from connectors.models import Delivery

from .test_deliveries import activity_job, change_status, harness, plan_all  # noqa: F401 - harness is a fixture


@pytest.fixture
def delivery_id(harness):
    job_id = activity_job(harness, activity="Any")
    change_status(harness, "New")
    ids = plan_all(harness)
    assert ids
    with transaction(harness.factory) as s:
        s.execute(update(Delivery).where(Delivery.id == ids[0]).values(state="uncertain", last_error="worker died"))
        assert delivery_decisions.states_of(s, job_id)["uncertain"] == 1
        assert [row.delivery.id for row in delivery_decisions.needing_decision(s, job_id)] == [ids[0]]
    return ids[0]


def state_of(h, delivery_id):
    with h.factory() as s:
        return s.get(Delivery, delivery_id).state


@pytest.mark.parametrize("decision, result", [("mark_sent", "sent"), ("mark_not_sent", "pending")])
def test_decisions_on_an_uncertain_delivery(harness, delivery_id, decision, result):
    with transaction(harness.factory) as s:
        assert delivery_decisions.decide(s, s.get(Delivery, delivery_id), decision, "Ada") is True
    assert state_of(harness, delivery_id) == result


def test_a_row_settled_by_a_worker_after_it_was_read_is_left_alone(harness, delivery_id):
    with harness.factory() as page:  # what the administrator's page showed
        seen = page.get(Delivery, delivery_id)
        assert seen.state == "uncertain"
    with transaction(harness.factory) as worker:  # then the dispatcher's verify found it sent
        worker.execute(update(Delivery).where(Delivery.id == delivery_id).values(state="sent"))
    with transaction(harness.factory) as s:
        assert delivery_decisions.decide(s, seen, "mark_not_sent", "Ada") is False  # compared with "uncertain"
        assert delivery_decisions.decide(s, seen, "mark_sent", "Ada", seen_state="uncertain") is False
    assert state_of(harness, delivery_id) == "sent"


def test_a_decision_the_state_does_not_offer_changes_nothing(harness, delivery_id):
    with transaction(harness.factory) as s:
        assert delivery_decisions.decide(s, s.get(Delivery, delivery_id), "retry", "Ada", seen_state="sent") is False
        assert delivery_decisions.decide(s, s.get(Delivery, delivery_id), "mark_sent", "Ada", seen_state="failed") is False
    assert state_of(harness, delivery_id) == "uncertain"
