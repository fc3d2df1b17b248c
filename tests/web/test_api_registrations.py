"""/api/v1 registrations: the list's search, one registration, and status changes through the
core's change_status (recorded once, nothing for an unchanged status), scoped by event access."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.event_access import unassign_event
from connectors.models import Event, StatusChangeEvent, User

from .api_helpers import add_registration, api, errors_of  # noqa: F401  (fixture)


@pytest.fixture
def reg(world) -> int:
    with transaction(world.services.factory) as s:
        return add_registration(s, world.ids)


def test_search_and_detail_by_role(api, reg):
    found = api.call("GET", "/api/v1/events/EV1/registrations?q=ann", "builder").get_json()
    assert [r["registration_code"] for r in found["registrations"]] == ["R1"] and found["page"]["total"] == 1
    assert found["registrations"][0]["external_ids"] == {"marketo_lead_id": "42"}
    assert api.call("GET", "/api/v1/events/EV1/registrations?q=zed").get_json()["page"]["total"] == 0
    assert errors_of(api.call("GET", "/api/v1/events/EV1/registrations?status=Asleep"))["status"]
    assert errors_of(api.call("GET", "/api/v1/events/EV1/registrations?sort=shoe"))["sort"]
    assert api.call("GET", "/api/v1/events/EV1/registrations", "other").status_code == 404
    assert api.call("GET", "/api/v1/events/EV1/registrations", None).status_code == 401
    assert api.call("GET", "/api/v1/events/EV1/registrations", "bad").status_code == 401
    detail = api.call("GET", f"/api/v1/events/EV1/registrations/{reg}", "builder").get_json()
    assert detail["sessions"] == [{"code": "S101", "name": "Keynote", "status": "Registered"}]
    assert detail["agenda_items"] == [{"code": "W1", "name": "Workshop", "status": "Registered"}]
    assert api.call("GET", f"/api/v1/events/EV2/registrations/{reg}").status_code == 404
    assert api.call("GET", f"/api/v1/events/EV1/registrations/{reg}", "other").status_code == 404


def test_a_builder_loses_access_with_the_assignment(api, world, reg):
    with transaction(world.services.factory) as s:
        builder = s.scalar(select(User).where(User.login == "builder@acme.test"))
        unassign_event(s, builder, s.get(Event, world.ids["ev1"]))
    assert api.call("GET", f"/api/v1/events/EV1/registrations/{reg}", "builder").status_code == 404
    assert api.call("POST", f"/api/v1/events/EV1/registrations/{reg}/status", "builder",
                    json={"status": "Attended"}).status_code == 404


def _events(world) -> int:
    with world.session() as s:
        return s.scalar(select(func.count()).select_from(StatusChangeEvent))


def test_change_registration_status_once(api, world, reg):
    url = f"/api/v1/events/EV1/registrations/{reg}/status"
    assert api.call("POST", url, "other", json={"status": "Attended"}).status_code == 404
    assert api.call("POST", url, None, json={"status": "Attended"}).status_code == 401
    resp = api.call("POST", url, "builder", json={"status": "Attended"})
    assert resp.status_code == 200 and resp.get_json()["changed"] is True and resp.get_json()["previous"] == "New"
    with world.session() as s:
        recorded = s.scalar(select(StatusChangeEvent))
        assert recorded.payload["actor"]["name"] == "Ben Builder"
    again = api.call("POST", url, "builder", json={"status": "Attended"}).get_json()
    assert again == {"changed": False, "previous": "Attended", "current": "Attended", "event_id": None}
    assert _events(world) == 1
    bad = api.call("POST", url, json={"status": "Asleep"})
    assert bad.status_code == 422 and "Asleep" in errors_of(bad)["status"][0]
    assert errors_of(api.call("POST", url, json={}))["status"]


def test_change_session_and_agenda_item_status(api, world, reg):
    base = f"/api/v1/events/EV1/registrations/{reg}"
    resp = api.call("POST", base + "/sessions/S101/status", "builder", json={"status": "Attended"})
    assert resp.status_code == 200 and resp.get_json()["changed"] is True
    resp = api.call("POST", base + "/agenda-items/W1/status", json={"status": "Cancelled"})
    assert resp.status_code == 200, resp.get_json()
    assert api.call("POST", base + "/sessions/NOPE/status", json={"status": "Attended"}).status_code == 404
    assert api.call("POST", base + "/sessions/S101/status", json={"status": "Dancing"}).status_code == 422
    assert _events(world) == 2
