"""The Registrations pages: the list (search, filter, sort, pages), the detail page, and status
changes made there through the core's writer (one event and one outbox row per real change)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.event_access import assign_event
from connectors.models import (
    Account, AgendaItem, Event, AgendaItemRegistration, Outbox, Profile, Registration, Session as EventSession,
    SessionRegistration, StatusChangeEvent,
)
from connectors.seed import get_or_create_user

from .conftest import csrf_token, login, make_app

PEOPLE = [  # first, last, email, status
    ("Ann", "Smith", "ann.smith@acme.test", "New"),
    ("Bob", "Jones", "bob@jones.test", "Attended"),
    ("Cleo", "Park", "cleo@park.test", "Cancelled"),
]


def _add_registration(s, account_id, event_id, code, first, last, email, status, external_ids=None):
    profile = Profile(account_id=account_id, pin=f"P{code}", email=email, first_name=first, last_name=last,
                      custom={}, external_ids=external_ids or {})
    s.add(profile)
    s.flush()
    reg = Registration(event_id=event_id, profile_id=profile.id, registration_code=code, attendee_type_code="Attendee",
                       status_label=status, source="form", external_ids={}, version=1)
    s.add(reg)
    s.flush()
    return reg


@pytest.fixture
def regs(world):
    """ACME/EV1: three people (Ann with a session and an agenda item); OTHER/OEV: one registration."""
    ids = world.ids
    with transaction(world.services.factory) as s:
        out = {}
        for i, (first, last, email, status) in enumerate(PEOPLE, start=1):
            ext = {"marketo_lead_id": "ML-77", "eloqua_contact_id": "EC-88"} if i == 1 else {}
            out[first] = _add_registration(s, ids["acme"], ids["ev1"], f"R{i}", first, last, email, status, ext).id
        keynote = EventSession(event_id=ids["ev1"], session_code="S101", title="Opening keynote", location="Hall A")
        workshop = AgendaItem(event_id=ids["ev1"], code="W1", name="Threat modelling workshop")
        s.add_all([keynote, workshop, EventSession(event_id=ids["ev1"], session_code="S102", title="Not taken")])
        s.flush()
        s.add_all([SessionRegistration(registration_id=out["Ann"], session_id=keynote.id, status="Registered"),
                   AgendaItemRegistration(registration_id=out["Ann"], agenda_item_id=workshop.id, status="Waitlisted")])
        out["other"] = _add_registration(s, ids["other"], ids["ev_other"], "O1", "Olga", "Other", "olga@other.test",
                                         "New").id
        otto = get_or_create_user(s, s.get(Account, ids["other"]), "builder@other.test", "Otto Builder", "event_builder",
                                  "ob-pw")
        assign_event(s, otto, s.get(Event, ids["ev_other"]))
    return out


@pytest.fixture
def csrf_client(world):
    """A client of an app with CSRF on, logged in as the administrator (the login form needs the token too)."""
    client = make_app(world, WTF_CSRF_ENABLED=True).test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert login(client, "admin@acme.test", csrf_token=token).status_code == 302
    return client


def _rows(world, model):
    with world.session() as s:
        return list(s.scalars(select(model)))


def _count(world, model):
    with world.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _detail(ann_id):
    return f"/events/EV1/registrations/{ann_id}"


# -- who sees what ---------------------------------------------------------------------------------

def test_admin_sees_the_list_with_status_type_source_and_external_ids(admin, regs):
    resp = admin.get("/events/EV1/registrations")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for column in ("Code", "Name", "E-mail", "Status", "Attendee type", "Source", "Marketo lead id",
                   "Eloqua contact id", "Last modified"):
        assert f">{column}</th>" in html, column
    assert "Ann Smith" in html and "bob@jones.test" in html and "ML-77" in html and "EC-88" in html
    assert "Attendee</td>" in html and ">form</td>" in html
    assert "Showing 1–3 of 3 registrations" in html
    assert "Olga" not in html
    assert f'href="/events/EV1/registrations/{regs["Ann"]}"' in html


def test_event_builder_uses_the_pages_and_changes_a_status(builder, world, regs):
    assert builder.get("/events/EV1/registrations").status_code == 200
    assert builder.get(_detail(regs["Ann"])).status_code == 200
    resp = builder.post(f"{_detail(regs['Ann'])}/status", data={"status": "Attended"})
    assert resp.status_code == 302
    (event,) = _rows(world, StatusChangeEvent)
    assert event.payload["actor"]["type"] == "user"


def test_another_accounts_registrations_are_404_for_every_role(admin, client, world, regs):
    other = regs["other"]
    for path in ("/events/OEV/registrations", f"/events/OEV/registrations/{other}", f"/events/EV1/registrations/{other}",
                 "/events/NOPE/registrations"):
        assert admin.get(path).status_code == 404, path
    assert admin.post(f"/events/OEV/registrations/{other}/status", data={"status": "Attended"}).status_code == 404
    assert admin.post(f"/events/EV1/registrations/{other}/status", data={"status": "Attended"}).status_code == 404
    client.post("/logout")
    assert login(client, "builder@other.test", "ob-pw").status_code == 302  # an event builder without access to EV1
    assert client.get("/events/EV1/registrations").status_code == 404
    assert client.get(_detail(regs["Ann"])).status_code == 404
    assert client.post(f"{_detail(regs['Ann'])}/status", data={"status": "Cancelled"}).status_code == 404
    assert client.get("/events/OEV/registrations").status_code == 200  # their own event
    assert _count(world, StatusChangeEvent) == 0


def test_pages_need_a_login(client, regs):
    resp = client.get("/events/EV1/registrations")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert client.post(f"{_detail(regs['Ann'])}/status", data={"status": "Attended"}).status_code == 302


def test_the_event_pages_link_to_registrations(admin, regs):
    assert 'href="/events/EV1/registrations"' in admin.get("/events/EV1/connectors").get_data(as_text=True)
    assert 'href="/events/EV2/registrations"' in admin.get("/").get_data(as_text=True)
    html = admin.get("/events/EV1/registrations").get_data(as_text=True)
    assert 'href="/events/EV1/connectors"' in html and 'aria-current="page">Registrations<' in html


# -- search, filter, sort, pages -----------------------------------------------------------------

def _codes(html):
    return re.findall(r'/events/EV1/registrations/\d+">(R\d+)</a>', html)


@pytest.mark.parametrize("q, expected", [
    ("ann.smith", ["R1"]), ("JONES", ["R2"]), ("ann smith", ["R1"]), ("r3", ["R3"]), ("park.test", ["R3"]),
    ("%", []), ("nobody", []),
])
def test_search_by_email_name_or_code(admin, regs, q, expected):
    html = admin.get("/events/EV1/registrations", query_string={"q": q}).get_data(as_text=True)
    assert _codes(html) == expected
    if not expected:
        assert "No registration matches this search" in html and "clear the search" in html


def test_filter_by_status_and_reject_an_unknown_one(admin, regs):
    html = admin.get("/events/EV1/registrations?status=Attended").get_data(as_text=True)
    assert _codes(html) == ["R2"]
    resp = admin.get("/events/EV1/registrations?status=Bogus")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "&#39;Bogus&#39; is not a status of this event" in html
    assert 'id="status-errors"' in html and "R1" not in _codes(html)
    assert admin.get("/events/EV1/registrations?sort=password").status_code == 400
    assert admin.get("/events/EV1/registrations?page=0").status_code == 400
    assert admin.get("/events/EV1/registrations?page=abc").status_code == 400


def test_sort_by_email_both_ways(admin, regs):
    up = _codes(admin.get("/events/EV1/registrations?sort=email&direction=asc").get_data(as_text=True))
    down = _codes(admin.get("/events/EV1/registrations?sort=email&direction=desc").get_data(as_text=True))
    assert up == ["R1", "R2", "R3"] and down == ["R3", "R2", "R1"]
    assert _codes(admin.get("/events/EV1/registrations?sort=name").get_data(as_text=True)) == ["R2", "R3", "R1"]


def test_pages_of_25_keep_the_search(admin, world, regs):
    with transaction(world.services.factory) as s:
        for i in range(30):
            _add_registration(s, world.ids["acme"], world.ids["ev1"], f"X{i:02d}", "Xavier", f"Many{i:02d}",
                              f"x{i:02d}@many.test", "Invited")
    first = admin.get("/events/EV1/registrations?q=many&sort=email").get_data(as_text=True)
    assert "Showing 1–25 of 30 registrations" in first and "Page 1 of 2" in first
    assert first.count("@many.test") == 25 and "x00@many.test" in first and "x25@many.test" not in first
    assert 'href="/events/EV1/registrations?q=many&amp;sort=email&amp;page=2"' in first
    second = admin.get("/events/EV1/registrations?q=many&sort=email&page=2").get_data(as_text=True)
    assert "Showing 26–30 of 30" in second and "x29@many.test" in second and "‹ Previous" in second
    assert "Showing 26–30 of 30" in admin.get("/events/EV1/registrations?q=many&sort=email&page=9").get_data(as_text=True)


def test_empty_states_say_what_to_do(admin, regs):
    html = admin.get("/events/EV2/registrations").get_data(as_text=True)
    assert "No registrations in this event yet" in html and 'href="/events/EV2/connectors/new"' in html
    html = admin.get(_detail(regs["Bob"])).get_data(as_text=True)
    assert "No sessions taken" in html and "No agenda items taken" in html and "No status changes recorded yet" in html


# -- the detail page and status changes ------------------------------------------------------------

def test_detail_shows_sessions_agenda_items_and_labelled_forms(admin, regs):
    html = admin.get(_detail(regs["Ann"])).get_data(as_text=True)
    assert "Ann Smith" in html and "R1" in html and "ML-77" in html
    assert "S101" in html and "Opening keynote" in html and "Registered" in html
    assert "W1" in html and "Threat modelling workshop" in html and "Waitlisted" in html
    assert "Not taken" not in html
    for form_id in ("registration-status", "sessions-1-status", "agenda-items-1-status"):
        assert f'<label for="{form_id}"' in html and f'id="{form_id}"' in html, form_id
    assert '<option selected value="New">New (accepted)</option>' in html
    assert '<option value="Attended">Attended</option>' in html  # session choices


def test_a_status_change_writes_one_event_and_outbox_row_and_shows_on_the_page(csrf_client, world, regs):
    page = csrf_client.get(_detail(regs["Ann"])).get_data(as_text=True)
    resp = csrf_client.post(f"{_detail(regs['Ann'])}/status", data={"status": "Attended", "csrf_token": csrf_token(page)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{_detail(regs['Ann'])}#status")
    (event,), (message,) = _rows(world, StatusChangeEvent), _rows(world, Outbox)
    assert event.id == message.message_id and message.payload == event.payload
    assert message.routing_key == "registration.status_changed"
    payload = event.payload
    assert payload["previous"] == {"status": "New", "classification": "accepted"}
    assert payload["current"] == {"status": "Attended", "classification": "accepted"}
    assert payload["subject"] is None and payload["registration_code"] == "R1"
    assert payload["actor"] == {"type": "user", "id": f"u_{world.ids['admin']}", "name": "Ada Admin"}
    with world.session() as s:
        reg = s.get(Registration, regs["Ann"])
        assert (reg.status_label, reg.version) == ("Attended", 2) == (reg.status_label, payload["registration_version"])
    html = csrf_client.get(_detail(regs["Ann"])).get_data(as_text=True)
    assert "Registration: status changed from New to Attended." in html
    assert f'<td data-label="By">Ada Admin <code>u_{world.ids["admin"]}</code></td>' in html  # who changed it
    assert '<option selected value="Attended">' in html

    again = csrf_client.post(f"{_detail(regs['Ann'])}/status", data={"status": "Attended", "csrf_token": csrf_token(page)})
    assert again.status_code == 302
    assert (_count(world, StatusChangeEvent), _count(world, Outbox)) == (1, 1)
    assert "already had the status Attended: nothing changed" in csrf_client.get(_detail(regs["Ann"])).get_data(as_text=True)


@pytest.mark.parametrize("kind, code, status, subject", [
    ("sessions", "S101", "Attended", {"kind": "session", "code": "S101", "name": "Opening keynote"}),
    ("agenda-items", "W1", "Registered", {"kind": "agenda_item", "code": "W1", "name": "Threat modelling workshop"}),
])
def test_session_and_agenda_item_changes_name_their_subject(csrf_client, world, regs, kind, code, status, subject):
    token = csrf_token(csrf_client.get(_detail(regs["Ann"])).get_data(as_text=True))
    url = f"{_detail(regs['Ann'])}/{kind}/{code}/status"
    assert csrf_client.post(url, data={"status": status, "csrf_token": token}).status_code == 302
    (event,) = _rows(world, StatusChangeEvent)
    assert event.payload["subject"] == subject and event.payload["current"]["status"] == status
    assert event.payload["previous"]["status"] in ("Registered", "Waitlisted") and event.registration_version == 2
    assert _count(world, Outbox) == 1
    html = csrf_client.get(_detail(regs["Ann"])).get_data(as_text=True)
    assert "status changed from" in html and f"<code>{code}</code>" in html
    assert csrf_client.post(url, data={"status": status, "csrf_token": token}).status_code == 302
    assert (_count(world, StatusChangeEvent), _count(world, Outbox)) == (1, 1)


@pytest.mark.parametrize("path, status, reason", [
    ("status", "Bogus", "&#39;Bogus&#39; is not a registration status of event EV1"),
    ("status", "", "New status: choose a status"),
    ("sessions/S101/status", "Checked In", "&#39;Checked In&#39; is not one of: Registered, Waitlisted"),
    ("agenda-items/W1/status", "Attended", "&#39;Attended&#39; is not one of: Registered, Waitlisted, Cancelled"),
])
def test_invalid_status_is_rejected_with_field_and_reason(admin, world, regs, path, status, reason):
    resp = admin.post(f"{_detail(regs['Ann'])}/{path}", data={"status": status})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and reason in html and 'aria-invalid="true"' in html
    assert _count(world, StatusChangeEvent) == 0 and _count(world, Outbox) == 0


def test_a_session_not_taken_or_unknown_is_404(admin, world, regs):
    base = _detail(regs["Ann"])
    assert admin.post(f"{base}/sessions/S102/status", data={"status": "Attended"}).status_code == 404
    assert admin.post(f"{base}/sessions/NOPE/status", data={"status": "Attended"}).status_code == 404
    assert admin.post(f"{base}/sessions/S102/status", data={"status": ""}).status_code == 404
    assert admin.post(f"{base}/rooms/S101/status", data={"status": "Attended"}).status_code == 404
    assert _count(world, StatusChangeEvent) == 0


def test_csrf_token_is_required(csrf_client, world, regs):
    for path in ("status", "sessions/S101/status", "agenda-items/W1/status"):
        resp = csrf_client.post(f"{_detail(regs['Ann'])}/{path}", data={"status": "Cancelled"})
        assert resp.status_code == 400 and "The form expired" in resp.get_data(as_text=True), path
    assert _count(world, StatusChangeEvent) == 0
    with world.session() as s:
        assert s.get(Registration, regs["Ann"]).status_label == "New"
