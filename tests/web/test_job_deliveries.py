"""An event-triggered job's page: its deliveries by state, and the administrator's decisions on
parked and uncertain ones (retry, mark as sent, mark as not sent)."""
from __future__ import annotations

import pytest
from marshmallow import Schema
from sqlalchemy import select

from connectors import JobType, hookimpl
from connectors.models import Account, Delivery, Event, StatusChangeEvent
from connectors.store import Store

from .conftest import add_job


class Nothing(Schema):
    pass


class TriggeredPlugin:
    @hookimpl
    def register_job_types(self, register):
        register(JobType(key="testapp.on_status", label="Notify on Status Change", application="testapp", scope="event",
                         params_schema=Nothing, run=lambda ctx, params: None, triggers=("registration.status_changed",),
                         on_event=lambda ctx, params, event: None))


@pytest.fixture
def deliveries(world) -> tuple[int, dict[str, int]]:
    """A triggered job with one delivery in each state an administrator may act on, and one sent."""
    assert world.services.registry.add("triggered", TriggeredPlugin()), world.services.registry.load_errors
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "scheduled", job_type="testapp.on_status")
        store = Store(s, s.get(Account, ids["acme"]), s.get(Event, ids["ev1"]))
        profile = store.upsert_profiles([{"key": "ann", "fields": {"email": "ann@example.com", "first_name": "Ann"}}])[0]
        reg = store.upsert_registrations([{"key": "ann", "profile_id": profile.id, "attendee_type_code": "Attendee",
                                           "status_label": "New"}])[0]
        made = {}
        for n, state in enumerate(("parked", "uncertain", "failed", "sent")):
            s.add(StatusChangeEvent(id=f"evt-{n}", type="registration.status_changed", account_id=ids["acme"],
                                    event_id=ids["ev1"], registration_id=reg.id, registration_version=1, payload={}))
            s.flush()
            d = Delivery(job_id=job_id, event_id=f"evt-{n}", state=state, attempts=3, last_error=f"{state} <why>\ntrace")
            s.add(d)
            s.flush()
            made[state] = d.id
    return job_id, made


def state(world, delivery_id: int) -> str:
    with world.session() as s:
        return s.scalar(select(Delivery.state).where(Delivery.id == delivery_id))


def test_job_page_counts_deliveries_by_state_and_offers_the_decisions(admin, world, deliveries):
    job_id, made = deliveries
    html = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'data-delivery-state="parked">1<' in html and 'data-delivery-state="sent">1<' in html
    assert 'data-delivery-state="pending">0<' in html
    section = html[html.index('id="deliveries"'):html.index('id="runs-title"')]
    assert "parked &lt;why&gt;" in section and "trace" not in section  # the error's first line, escaped
    assert section.count("Mark as sent") == 2 and section.count("Mark as not sent") == 1 and section.count(">Retry<") == 2
    assert f"#{made['sent']}<" not in section  # a sent delivery needs no decision


def test_mark_uncertain_as_sent_then_it_is_never_sent_again(admin, world, deliveries):
    job_id, made = deliveries
    response = admin.post(f"/jobs/{job_id}/deliveries/{made['uncertain']}", data={"decision": "mark_sent"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{job_id}#deliveries")
    with world.session() as s:
        d = s.get(Delivery, made["uncertain"])
        assert (d.state, d.last_error) == ("sent", "marked as sent by Ada Admin")
    # a decision the state no longer offers is refused, nothing changes
    html = admin.post(f"/jobs/{job_id}/deliveries/{made['uncertain']}", data={"decision": "mark_not_sent"},
                      follow_redirects=True).get_data(as_text=True)
    assert "is sent now" in html and state(world, made["uncertain"]) == "sent"


def test_mark_not_sent_and_retry_send_again(admin, world, deliveries):
    job_id, made = deliveries
    admin.post(f"/jobs/{job_id}/deliveries/{made['uncertain']}", data={"decision": "mark_not_sent"})
    admin.post(f"/jobs/{job_id}/deliveries/{made['parked']}", data={"decision": "retry"})
    admin.post(f"/jobs/{job_id}/deliveries/{made['failed']}", data={"decision": "mark_sent"})  # not offered for failed
    assert [state(world, made[k]) for k in ("uncertain", "parked", "failed")] == ["pending", "pending", "failed"]
    assert admin.post(f"/jobs/{job_id}/deliveries/{made['parked']}", data={"decision": "explode"}).status_code == 400


def test_only_administrators_decide(builder, world, deliveries):
    job_id, made = deliveries
    html = builder.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "An administrator decides" in html and "Mark as sent" not in html
    assert builder.post(f"/jobs/{job_id}/deliveries/{made['parked']}", data={"decision": "retry"}).status_code == 403
    assert state(world, made["parked"]) == "parked"


def test_a_delivery_of_another_job_is_not_found(admin, world, deliveries):
    _, made = deliveries
    with world.session() as s, s.begin():
        other = add_job(s, world.ids["acme"], world.ids["ev1"], world.ids["config"], "scheduled")
    assert admin.post(f"/jobs/{other}/deliveries/{made['parked']}", data={"decision": "retry"}).status_code == 404


def test_a_decision_on_a_state_that_changed_since_the_page_is_refused(admin, world, deliveries):
    """The page showed "uncertain"; meanwhile the dispatcher's check found it sent: "mark as not
    sent" must not put it back to pending (it would be sent twice)."""
    job_id, made = deliveries
    with world.session() as s, s.begin():
        s.get(Delivery, made["uncertain"]).state = "sent"
    html = admin.post(f"/jobs/{job_id}/deliveries/{made['uncertain']}",
                      data={"decision": "mark_not_sent", "state": "uncertain"}, follow_redirects=True).get_data(as_text=True)
    assert "is sent now" in html and state(world, made["uncertain"]) == "sent"
    # the page's state is what is compared: a parked row that became pending is not retried again
    with world.session() as s, s.begin():
        s.get(Delivery, made["parked"]).state = "pending"
    admin.post(f"/jobs/{job_id}/deliveries/{made['parked']}", data={"decision": "mark_sent", "state": "parked"})
    assert state(world, made["parked"]) == "pending"
