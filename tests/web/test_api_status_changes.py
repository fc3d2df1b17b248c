"""POST /api/v1/status-changes: token-authenticated, idempotent on the event id within an account,
stale changes refused, each rejected event named with its reasons while the valid ones are applied
and recorded, and a request it cannot read answered with ``{"errors": ...}``, never a 500.

Run on SQLite (the admin tests' world) and on the machine's PostgreSQL, where a NUL character or
an overlong value used to fail the whole batch."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text

from connectors.config import Settings
from connectors.db import make_engine, transaction
from connectors.models import (
    Account, Base, Event, Outbox, Profile, Registration, Session as EventSession, SessionRegistration,
    StatusChangeEvent,
)
from connectors.models.events import ReceivedEvent
from connectors.plugins import PluginManager
from connectors.seed import get_or_create_account, get_or_create_event
from connectors.services import Services
from connectors.tokens import create_token

from ..conftest import fresh_postgres_database
from .conftest import World, make_app

URL = "/api/v1/status-changes"


@pytest.fixture(scope="module")
def postgres_web_url():
    """A fresh PostgreSQL database for this module's tests, with the models' tables, dropped afterwards."""
    with fresh_postgres_database("connectors_ingest_test") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_world(request, tmp_path):
    """Accounts ACME (event EV1) and OTHER (event OEV), on SQLite as the admin tests have them and
    on PostgreSQL (this module's database, its tables emptied)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'web.db'}"
    else:
        url = request.getfixturevalue("postgres_web_url")
    services = Services.from_settings(Settings(instance_dir=tmp_path, database_url=url, secret_key="test-key"),
                                      PluginManager())
    if request.param == "sqlite":
        Base.metadata.create_all(services.engine)
    else:
        with services.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
                              + " RESTART IDENTITY CASCADE"))
    with transaction(services.factory) as s:
        acme, other = get_or_create_account(s, "ACME", "Acme Events"), get_or_create_account(s, "OTHER", "Other Ltd")
        ids = {"acme": acme.id, "other": other.id, "ev1": get_or_create_event(s, acme, "EV1", "Event One").id,
               "ev_other": get_or_create_event(s, other, "OEV", "Other Event").id}
    yield World(services, ids)
    services.close()


@pytest.fixture
def world(db_world):
    return db_world


def _registration(s, account_id, event_id, pin, code="R1"):
    profile = Profile(account_id=account_id, pin=pin, email=f"{pin.lower()}@acme.test", custom={}, external_ids={})
    s.add(profile)
    s.flush()
    s.add(Registration(event_id=event_id, profile_id=profile.id, registration_code=code,
                       attendee_type_code="Attendee", status_label="New", external_ids={}, version=1))


@pytest.fixture
def api(db_world):
    world = db_world
    with transaction(world.services.factory) as s:
        acme = s.get(Account, world.ids["acme"])
        _, token = create_token(s, acme, "event platform")
        _, other_token = create_token(s, s.get(Account, world.ids["other"]), "other platform")
        _registration(s, acme.id, world.ids["ev1"], "P1")
        _registration(s, world.ids["other"], world.ids["ev_other"], "O1")
        s.add(EventSession(event_id=world.ids["ev1"], session_code="S101", title="Keynote"))
    app = make_app(world, WTF_CSRF_ENABLED=True)  # CSRF on: the API must not need it
    return app.test_client(), {"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {other_token}"}


def event(id="evt_1", status="Attended", at="2026-06-09T09:30:00Z", **extra):
    return {"id": id, "type": "registration.status_changed", "occurred_at": at,
            "account_code": "ACME", "event_code": "EV1", "registration_code": "R1",
            "current": {"status": status}, **extra}


def count(world, model):
    with world.services.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def recorded(world, source_id, account="acme"):
    """The status-change event the sender's id was recorded as (None: not remembered, or nothing changed)."""
    with world.services.factory() as s:
        row = s.get(ReceivedEvent, (world.ids[account], source_id))
        return row and row.status_change_event_id and s.get(StatusChangeEvent, row.status_change_event_id)


def status_of(world, code="R1"):
    with world.services.factory() as s:
        return s.scalar(select(Registration.status_label).join(Event).where(
            Registration.registration_code == code, Event.account_id == world.ids["acme"]))


def test_token_is_required(api):
    client, _, _ = api
    for headers in ({}, {"Authorization": "Bearer cnk_wrong"}):
        resp = client.post(URL, json=[event()], headers=headers)
        assert resp.status_code == 401 and "ingestion token" in resp.json["errors"]["authorization"][0]


def test_a_status_change_is_applied_recorded_and_published(api, world):
    client, auth, _ = api
    resp = client.post(URL, json={"events": [event()]}, headers=auth)
    assert resp.status_code == 200 and resp.json["accepted"] == 1, resp.json
    assert resp.json == {"accepted": 1, "unchanged": 0, "stale": 0, "duplicate": 0, "rejected": 0,
                         "results": [{"id": "evt_1", "status": "accepted"}]}
    with world.services.factory() as s:
        reg = s.scalar(select(Registration).where(Registration.registration_code == "R1",
                                                  Registration.event_id == world.ids["ev1"]))
        assert (reg.status_label, reg.version) == ("Attended", 2)
        assert reg.status_changed_at == datetime(2026, 6, 9, 9, 30, tzinfo=timezone.utc)
    event_row = recorded(world, "evt_1")
    assert event_row.payload["previous"] == {"status": "New", "classification": "accepted"}
    assert event_row.payload["occurred_at"] == "2026-06-09T09:30:00Z"
    assert event_row.occurred_at == datetime(2026, 6, 9, 9, 30, tzinfo=timezone.utc)
    with world.services.factory() as s:
        message = s.scalar(select(Outbox).where(Outbox.message_id == event_row.id))
        assert message.routing_key == "registration.status_changed"


def test_the_same_event_twice_is_a_duplicate(api, world):
    client, auth, _ = api
    client.post(URL, json=[event()], headers=auth)
    again = client.post(URL, json=[event(status="Cancelled")], headers=auth).json
    assert again["duplicate"] == 1 and again["results"] == [{"id": "evt_1", "status": "duplicate"}]
    assert count(world, StatusChangeEvent) == 1 and status_of(world) == "Attended"


def test_two_accounts_may_send_the_same_event_id(api, world):
    client, auth, other = api
    assert client.post(URL, json=[event("evt_X")], headers=auth).json["accepted"] == 1
    theirs = client.post(URL, json=[event("evt_X", account_code="OTHER", event_code="OEV")], headers=other).json
    assert theirs["accepted"] == 1, theirs
    assert recorded(world, "evt_X").account_id == world.ids["acme"]
    assert recorded(world, "evt_X", "other").account_id == world.ids["other"]
    assert count(world, StatusChangeEvent) == 2 and count(world, ReceivedEvent) == 2


def test_two_accounts_with_the_same_event_and_registration_codes_touch_only_their_own(api, world):
    """OTHER also runs an event EV1 with a registration R1: each account's token reaches its own."""
    client, auth, other = api
    with transaction(world.services.factory) as s:
        their_event = get_or_create_event(s, s.get(Account, world.ids["other"]), "EV1", "Their EV1")
        s.flush()
        _registration(s, world.ids["other"], their_event.id, "O2")
        their_event_id = their_event.id
    theirs = client.post(URL, json=[event("evt_same", status="Cancelled", account_code="OTHER")], headers=other).json
    assert theirs["accepted"] == 1, theirs
    assert status_of(world) == "New"  # ACME's EV1/R1 untouched
    with world.services.factory() as s:
        assert s.scalar(select(Registration.status_label).where(Registration.event_id == their_event_id)) == "Cancelled"
    ours = client.post(URL, json=[event("evt_same")], headers=auth).json  # the same id, ACME's own change
    assert ours["accepted"] == 1, ours
    assert status_of(world) == "Attended"
    with world.services.factory() as s:
        assert s.scalar(select(Registration.status_label).where(Registration.event_id == their_event_id)) == "Cancelled"
        events = s.scalars(select(StatusChangeEvent).where(StatusChangeEvent.event_id.in_(
            [world.ids["ev1"], their_event_id]))).all()
    assert sorted((e.account_id, e.payload["current"]["status"]) for e in events) == sorted(
        [(world.ids["other"], "Cancelled"), (world.ids["acme"], "Attended")])


def test_an_unchanged_id_is_remembered_and_its_replay_changes_nothing(api, world):
    client, auth, _ = api
    first = client.post(URL, json=[event("evt_a"), event("evt_b")], headers=auth).json
    assert (first["accepted"], first["unchanged"]) == (1, 1)
    assert client.post(URL, json=[event("evt_c", "Cancelled", at="2026-06-09T10:00:00Z")], headers=auth).json[
        "accepted"] == 1
    replay = client.post(URL, json=[event("evt_b")], headers=auth).json
    assert replay["results"] == [{"id": "evt_b", "status": "duplicate"}]
    assert status_of(world) == "Cancelled"


def test_an_older_change_is_stale_and_changes_nothing(api, world):
    client, auth, _ = api
    client.post(URL, json=[event("evt_new", "Cancelled", at="2026-06-09T10:00:00Z")], headers=auth)
    late = client.post(URL, json=[event("evt_old", "Attended", at="2026-06-09T09:59:59Z"),
                                  event("evt_session_old", type="session_registration.status_changed",
                                        subject={"kind": "session", "code": "S101"})], headers=auth).json
    assert (late["stale"], late["accepted"]) == (1, 1), late  # a session is a subject of its own
    assert late["results"][0] == {"id": "evt_old", "status": "stale"}
    assert status_of(world) == "Cancelled" and count(world, StatusChangeEvent) == 2
    again = client.post(URL, json=[event("evt_old", "Attended", at="2026-06-09T09:59:59Z")], headers=auth).json
    assert again["duplicate"] == 1


def test_a_rejected_id_is_not_remembered_so_it_applies_once_the_registration_exists(api, world):
    client, auth, _ = api
    assert client.post(URL, json=[event("evt_r", registration_code="R2")], headers=auth).json["rejected"] == 1
    with transaction(world.services.factory) as s:
        _registration(s, world.ids["acme"], world.ids["ev1"], "P2", code="R2")
    assert client.post(URL, json=[event("evt_r", registration_code="R2")], headers=auth).json["accepted"] == 1
    assert status_of(world, "R2") == "Attended"


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
    assert recorded(world, "evt_e").payload["subject"]["code"] == "S101"
    assert count(world, StatusChangeEvent) == 2


def test_hostile_values_reject_their_event_only(api, world):
    """A NUL character failed the whole batch on PostgreSQL (500, on every retry); numbers and
    strings were unbounded."""
    client, auth, _ = api
    batch = [event("evt_nul", registration_code="R1\u0000"), event("evt_ok"),
             event("evt_big", registration_code=2 ** 40), event(2 ** 70),
             event("evt_actor", actor={"type": "api", "id": 2 ** 70}),
             event("evt_long", registration_code="R" * 100_000), event("evt_status", status="Attended\u0000"),
             event("evt_time", at="0001-01-01T00:00:00+14:00")]
    resp = client.post(URL, json=batch, headers=auth)
    assert resp.status_code == 200, resp.data
    body = resp.json
    assert (body["accepted"], body["rejected"]) == (1, 7), body
    results = body["results"]
    assert results[0]["errors"] == {"registration_code": ["must not contain a NUL character (\\u0000)"]}
    assert results[1] == {"id": "evt_ok", "status": "accepted"}
    assert results[2]["errors"] == {"registration_code": ["Not a valid string."]}
    assert results[3] == {"id": None, "status": "rejected", "errors": {"id": ["Not a valid string."]}}
    assert "out of range" in results[4]["errors"]["actor"][0]
    assert results[5]["errors"] == {"registration_code": ["Length must be between 1 and 64."]}
    assert results[6]["errors"] == {"current.status": ["must not contain a NUL character (\\u0000)"]}
    assert results[7]["errors"] == {"occurred_at": ["not a representable time"]}
    assert status_of(world) == "Attended" and count(world, StatusChangeEvent) == 1


def test_not_a_number_in_an_event_rejects_it(api):
    client, auth, _ = api
    raw = '[{"id": "evt_nan", "type": "registration.status_changed", "occurred_at": "2026-06-09T09:30:00Z", ' \
          '"account_code": "ACME", "event_code": "EV1", "registration_code": "R1", ' \
          '"current": {"status": "Attended"}, "actor": {"type": "api", "id": NaN}}]'
    body = client.post(URL, data=raw, headers={**auth, "Content-Type": "application/json"}).json
    assert body["rejected"] == 1 and body["results"][0]["errors"] == {"actor": ["'id': not a finite number"]}


def test_a_lone_surrogate_rejects_its_event(api, world):
    client, auth, _ = api
    raw = '[{"id": "evt_s", "type": "registration.status_changed", "occurred_at": "2026-06-09T09:30:00Z", ' \
          '"account_code": "ACME", "event_code": "EV1", "registration_code": "R\\ud800", "current": {"status": "A"}}]'
    body = client.post(URL, data=raw, headers={**auth, "Content-Type": "application/json"}).json
    assert body["results"] == [{"id": "evt_s", "status": "rejected", "errors": {
        "registration_code": ["must be valid Unicode (no lone surrogate)"]}}]


def test_deep_nesting_is_refused_with_400(api):
    client, auth, _ = api
    for raw in ("[" * 10_000 + "]" * 10_000, '{"events": ' + "[" * 10_000 + "]" * 10_000 + "}"):
        resp = client.post(URL, data=raw, headers={**auth, "Content-Type": "application/json"})
        assert resp.status_code == 400 and resp.json == {"errors": {"body": ["the JSON is nested too deeply"]}}


def test_another_accounts_token_cannot_touch_this_account(api, world):
    client, _, other = api
    body = client.post(URL, json=[event()], headers=other).json
    assert body["rejected"] == 1 and "not the account of this token" in body["results"][0]["errors"]["account_code"][0]
    assert count(world, StatusChangeEvent) == 0


def test_a_request_it_cannot_read_is_answered_with_errors(api):
    client, auth, _ = api
    json_headers = {**auth, "Content-Type": "application/json"}
    for resp, status in [
        (client.post(URL, data="[", headers=json_headers), 400),
        (client.post(URL, data=b"[\xff]", headers=json_headers), 400),
        (client.post(URL, json={"nope": 1}, headers=auth), 400),
        (client.post(URL, data="[]", headers={**auth, "Content-Type": "text/plain"}), 400),
        (client.post(URL, json=[event(f"e{i}") for i in range(501)], headers=auth), 413),
        (client.post(URL, data="[" + " " * (1024 * 1024) + "]", headers=json_headers), 413),
    ]:
        assert resp.status_code == status and set(resp.json) == {"errors"}, resp.json
        assert resp.json["errors"]["body"] and all(isinstance(r, str) for r in resp.json["errors"]["body"])
