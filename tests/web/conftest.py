"""Admin tests: the Flask test client against a temporary SQLite database and a tiny test plugin.

Seeded: account ACME (administrator, event builder assigned to both events EV1 and EV2, "testapp"
configured) and
account OTHER (its own administrator, event and job), so cross-account access can be tried.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from marshmallow import Schema, fields, validate

from connectors import Application, JobType, hookimpl
from connectors.config import Settings
from connectors.db import transaction
from connectors.event_access import assign_event
from connectors.models import Base, Event, Job, JobRun, Schedule, utcnow
from connectors.plugins import PluginManager
from connectors.seed import configure_plugin, get_or_create_account, get_or_create_event, get_or_create_user
from connectors.services import Services
from connectors.web import create_app


class TestConnection(Schema):
    base_url = fields.String(required=True, metadata={"label": "Base URL"})
    api_key = fields.String(required=True, metadata={"label": "API key", "secret": True})


class ImportParams(Schema):
    list_name = fields.String(required=True, validate=validate.Length(max=100),
                              metadata={"label": "Static list", "description": "The list to import."})
    batch_size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500),
                                metadata={"label": "Batch size"})
    update_existing = fields.Boolean(load_default=True, metadata={"label": "Update existing registrations"})
    direction = fields.String(load_default="inbound", validate=validate.OneOf(["inbound", "outbound"]),
                              metadata={"label": "Direction"})
    attendee_type = fields.String(required=True, metadata={"label": "Attendee type"})


class ProfileParams(Schema):
    list_name = fields.String(required=True, metadata={"label": "Static list"})
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50), metadata={"label": "Limit"})


def _noop(ctx, params):  # pragma: no cover - the admin never runs handlers
    return None


class TestPlugin:
    @hookimpl
    def register_applications(self, register):
        register(Application(name="testapp", label="Test App", connection_schema=TestConnection))

    @hookimpl
    def register_job_types(self, register):
        register(JobType(key="testapp.import", label="Import Test Records", application="testapp", scope="event",
                         params_schema=ImportParams, run=_noop, event_choices={"attendee_type": "attendee_types"}))
        register(JobType(key="testapp.profiles", label="Import Test Profiles", application="testapp",
                         scope="account", params_schema=ProfileParams, run=_noop))


PASSWORDS = {"admin@acme.test": "admin-pw", "builder@acme.test": "builder-pw", "admin@other.test": "other-pw"}


@dataclass
class World:
    services: Services
    ids: dict[str, int]

    def session(self):
        return self.services.factory()


@pytest.fixture
def world(tmp_path) -> World:
    world = build_world(tmp_path, f"sqlite:///{tmp_path / 'web.db'}")
    yield world
    world.services.close()


def build_world(tmp_path, database_url: str) -> World:
    """The seeded accounts on an empty database (SQLite for most tests, PostgreSQL for some)."""
    settings = Settings(instance_dir=tmp_path, database_url=database_url, secret_key="test-key")
    registry = PluginManager()
    assert registry.add("testplugin", TestPlugin()), registry.load_errors
    services = Services.from_settings(settings, registry)
    Base.metadata.create_all(services.engine)
    ids: dict[str, int] = {}
    with transaction(services.factory) as s:
        acme = get_or_create_account(s, "ACME", "Acme Events")
        ev1 = get_or_create_event(s, acme, "EV1", "Event One", tz="Europe/Paris")
        ev2 = get_or_create_event(s, acme, "EV2", "Event Two", tz="America/New_York")
        admin = get_or_create_user(s, acme, "admin@acme.test", "Ada Admin", "administrator", PASSWORDS["admin@acme.test"])
        builder = get_or_create_user(s, acme, "builder@acme.test", "Ben Builder", "event_builder",
                                     PASSWORDS["builder@acme.test"])
        assign_event(s, builder, ev1)
        assign_event(s, builder, ev2)
        config = configure_plugin(s, registry, services.box, acme, "testapp", {"base_url": "http://x", "api_key": "k"})
        other = get_or_create_account(s, "OTHER", "Other Ltd")
        ev_other = get_or_create_event(s, other, "OEV", "Other Event")
        get_or_create_user(s, other, "admin@other.test", "Olga Other", "administrator", PASSWORDS["admin@other.test"])
        other_config = configure_plugin(s, registry, services.box, other, "testapp", {"base_url": "http://y", "api_key": "k"})
        ids.update(acme=acme.id, ev1=ev1.id, ev2=ev2.id, admin=admin.id, config=config.id, other=other.id,
                   ev_other=ev_other.id, other_config=other_config.id)
        ids["other_job"] = add_job(s, other.id, ev_other.id, other_config.id, "ended", run_status="succeeded")
    return World(services, ids)


def add_job(session, account_id: int, event_id: int | None, config_id: int, state: str, *,
            run_status: str | None = None, name: str | None = None, job_type: str = "testapp.import") -> int:
    """A job row written directly (as a worker would have left it), with an optional last run."""
    job = Job(account_id=account_id, event_id=event_id, plugin_config_id=config_id, job_type=job_type,
              name=name or f"{state} job", params={"list_name": "L"}, state=state, enabled=state != "disabled")
    job.schedule = Schedule(mode="once", timezone="UTC")
    session.add(job)
    session.flush()
    if run_status:
        session.add(JobRun(job_id=job.id, status=run_status, counters={"created": 3, "updated": 2, "failed": 1},
                           progress_done=6, progress_total=6, started_at=utcnow(), log=[]))
        session.flush()
    return job.id


def make_app(world: World, **config):
    return create_app(world.services, {"TESTING": True, "WTF_CSRF_ENABLED": False, **config})


@pytest.fixture
def app(world):
    return make_app(world)


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, login_name: str, password: str | None = None, **extra):
    return client.post("/login", data={"login": login_name, "password": password or PASSWORDS[login_name], **extra})


@pytest.fixture
def admin(client):
    assert login(client, "admin@acme.test").status_code == 302
    return client


@pytest.fixture
def builder(client):
    assert login(client, "builder@acme.test").status_code == 302
    return client


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def event_id(world: World, code: str) -> int:
    with world.session() as s:
        return s.query(Event.id).filter_by(account_id=world.ids["acme"], event_code=code).scalar()
