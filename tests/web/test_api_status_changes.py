"""POST /api/v1/status-changes: token-authenticated, idempotent on the event id, each rejected
event named with its reasons while the valid ones are applied and recorded."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.models import (
    Account, Outbox, Profile, Registration, Session as EventSession, SessionRegistration, StatusChangeEvent,
)
from connectors.tokens import create_token

from .conftest import make_app

URL = "/api/v1/status-changes"


@pytest.fixture
def api(world):
    with transaction(world.services.factory) as s:
        acme = s.get(Account, world.ids["acme"])
        _, token = create_token(s, acme, "event platform")
        _, other_token = create_token(s, s.get(Account, world.ids["other"]), "other platform")
        profile = Profile(account_id=acme.id, pin="P1", email="ann@acme.test", custom={}, external_ids={})
        s.add(profile)
        s.flush()
        s.add(Registration(event_id=world.ids["ev1"], profile_id=profile.id, registration_code="R1",
                           attendee_type_code="Attendee", status_label="New", external_ids={}, version=1))
        s.add(EventSession(event_id=world.ids["ev1"], session_code="S101", title="Keynote"))
    app = make_app(world, WTF_CSRF_ENABLED=True)  # CSRF on: the API must not need it
    return app.test_client(), {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {other_token}"}


def event(id="evt_1", status="Attended", **extra):
    return {"id": id, "type": "registration.status_changed", "occurred_at": "2026-06-09T09:30:00Z",
            "account_code": "ACME", "event_code": "EV1", "registration_code": "R1",
            "current": {"status": status}, **extra}


def count(world, model):
    with world.services.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_token_is_required(api):
    client, _, _ = api
    assert client.post(URL, json=[event()]).status_code == 401
    assert client.post(URL, json=[event()], headers={"Authorization": "Bearer cnk_wrong"}).status_code == 401


def test_a_status_change_is_applied_recorded_and_published(api, world):
    client, auth, _ = api
    resp = client.post(URL, json={"events": [event()]}, headers=auth)
    assert resp.status_code == 200 and resp.json["accepted"] == 1, resp.json
    with world.services.factory() as s:
        reg = s.scalar(select(Registration).where(Registration.registration_code == "R1"))
        assert (reg.status_label, reg.version) == ("Attended", 2)
        recorded = s.get(StatusChangeEvent, "evt_1")
        assert recorded.payload["previous"] == {"status": "New", "classification": "accepted"}
        assert recorded.payload["occurred_at"] == "2026-06-09T09:30:00Z"
        assert recorded.occurred_at == datetime(2026, 6, 9, 9, 30, tzinfo=timezone.utc)
        assert s.scalar(select(Outbox).where(Outbox.message_id == "evt_1")).routing_key == "registration.status_changed"


def test_the_same_event_twice_is_a_duplicate(api, world):
    client, auth, _ = api
    client.post(URL, json=[event()], headers=auth)
    again = client.post(URL, json=[event(status="Cancelled")], headers=auth).json
    assert again["duplicate"] == 1 and again["results"] == [{"id": "evt_1", "status": "duplicate"}]
    assert count(world, StatusChangeEvent) == 1


def test_each_bad_event_is_named_and_the_good_ones_go_on(api, world):
    client, auth, _ = api
    batch = [event("evt_a"), event("evt_b", status="Bogus"), {"id": "evt_c", "type": "nope"},
             event("evt_d", registration_code="NOPE"), "not an object",
             event("evt_e", type="session_registration.status_changed", subject={"kind": "session", "code": "S101"})]
    body = client.post(URL, json=batch, headers=auth).json
    assert (body["accepted"], body["rejected"]) == (2, 4)
    results = {r["id"]: r for r in body["results"]}
    assert "'Bogus' is not a registration status of event EV1" in results["evt_b"]["errors"]["current"][0]
    assert {"type", "occurred_at", "current", "account_code"} <= set(results["evt_c"]["errors"])
    assert "no registration 'NOPE'" in results["evt_d"]["errors"]["registration_code"][0]
    assert body["results"][4] == {"id": None, "status": "rejected", "errors": {"events.4": ["must be an object"]}}
    with world.services.factory() as s:
        link = s.scalar(select(SessionRegistration))
        assert link.status == "Attended"
        assert s.get(StatusChangeEvent, "evt_e").payload["subject"]["code"] == "S101"
    assert count(world, StatusChangeEvent) == 2


def test_another_accounts_token_cannot_touch_this_account(api, world):
    client, _, other = api
    body = client.post(URL, json=[event()], headers=other).json
    assert body["rejected"] == 1 and "not the account of this token" in body["results"][0]["errors"]["account_code"][0]
    assert count(world, StatusChangeEvent) == 0


def test_body_shape_and_size(api):
    client, auth, _ = api
    assert client.post(URL, data="[", headers={**auth, "Content-Type": "application/json"}).status_code == 400
    assert client.post(URL, json={"nope": 1}, headers=auth).status_code == 400
    assert client.post(URL, json=[event(f"e{i}") for i in range(501)], headers=auth).status_code == 413
