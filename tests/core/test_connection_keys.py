"""``credentials_key``: what a plugin keys its process-level caches by, and the connection
mappings the core hands plugins (job runs, "Test connection", deliveries) that carry it."""
from __future__ import annotations

import copy
import pickle

import pytest
from marshmallow import Schema, fields
from sqlalchemy import select

from connectors import (
    Application, CheckResult, ConnectionSettings, CredentialsKey, JobType, credentials_key, hookimpl, plugin_tasks,
)
from connectors.db import transaction
from connectors.jobs.event_context import EventContext
from connectors.models import Account, Event, PluginConfig
from connectors.plugin_configs import save_connection
from connectors.seed import configure_plugin, get_or_create_account
from connectors.testing import ACCOUNT_CODE, EVENT_CODE, Harness

SETTINGS = {"url": "https://crm.example", "client_id": "shared-id", "secret": "a-secret"}

#: what the plugin below saw: (where, the connection's config_id, its credentials key)
SEEN: list[tuple[str, int | None, CredentialsKey]] = []


class Conn(Schema):
    url = fields.String(required=True)
    client_id = fields.String(required=True)
    secret = fields.String(required=True, metadata={"secret": True})


class Params(Schema):
    pass


def _check(connection):
    SEEN.append(("check", getattr(connection, "config_id", None), credentials_key(connection)))
    return CheckResult(True, "ok")


def _run(ctx, params):
    SEEN.append(("run", getattr(ctx.connection, "config_id", None), credentials_key(ctx.connection)))


class KeyPlugin:
    @hookimpl
    def register_applications(self, register):
        register(Application(name="keyapp", label="Key app", connection_schema=Conn, check=_check))

    @hookimpl
    def register_job_types(self, register):
        register(JobType(key="keyapp.look", label="Look", application="keyapp", scope="account",
                         params_schema=Params, run=_run))


@pytest.fixture
def harness(tmp_path):
    SEEN.clear()
    h = Harness(tmp_path, plugins={"keyapp": KeyPlugin()})
    h.configure("keyapp", SETTINGS)
    yield h
    h.close()


# -- the key itself ------------------------------------------------------------------------------
def test_the_key_covers_every_field_and_never_holds_the_secret():
    base = credentials_key(SETTINGS)
    assert base == credentials_key(dict(reversed(list(SETTINGS.items()))))  # canonical: order does not matter
    assert base.configuration is None and len(base.digest) == 64
    for field, other in (("secret", "b-secret"), ("client_id", "other-id"), ("url", "https://crm2.example")):
        assert credentials_key(dict(SETTINGS, **{field: other})) != base, field
    assert credentials_key(dict(SETTINGS, extra=None)) != base  # an added field is another connection
    assert "a-secret" not in str(base) and "a-secret" not in repr(base)


def test_the_configuration_keeps_identical_settings_apart_and_survives_copies():
    one, two = ConnectionSettings(SETTINGS, 1), ConnectionSettings(SETTINGS, 2)
    assert one == two == SETTINGS  # still plain dicts to read
    assert credentials_key(one) != credentials_key(two)
    assert credentials_key(one).digest == credentials_key(two).digest == credentials_key(SETTINGS).digest
    assert (credentials_key(one).configuration, str(credentials_key(one))) == (1, f"config-1:{credentials_key(one).digest}")
    for clone in (copy.copy(one), copy.deepcopy(one), pickle.loads(pickle.dumps(one))):
        assert clone.config_id == 1 and credentials_key(clone) == credentials_key(one)
    assert credentials_key(dict(one)).configuration is None  # a plain copy is a plain dict
    with pytest.raises(AttributeError):
        one.config_id = 2
    assert "a-secret" not in repr(one)


# -- what the core hands plugins ---------------------------------------------------------------
def _config_id(h: Harness) -> int:
    with h.read_factory() as s:
        return s.scalar(select(PluginConfig.id))


def _check_now(h: Harness, config_id: int) -> plugin_tasks.Outcome:
    with transaction(h.factory) as s:
        task_id = plugin_tasks.request(s, s.get(PluginConfig, config_id), "check", None).id
    assert plugin_tasks.claim(h.factory, task_id, "w1")
    return plugin_tasks.execute(h.factory, h.registry, h.box, task_id)


def _event_context(h: Harness, config_id: int) -> EventContext:
    """A delivery's context as the core builds it (its session closed: only the connection and
    ``http()`` are looked at)."""
    with h.factory() as s:
        config = s.get(PluginConfig, config_id)
        account = s.get(Account, config.account_id)
        event = s.scalar(select(Event).where(Event.account_id == account.id, Event.event_code == EVENT_CODE))
        return EventContext.build(s, h.box, config, account, event, delivery_id=1, attempt=1, job_id=1,
                                  factory=h.factory)


def test_runs_checks_and_deliveries_get_the_configuration_and_a_saved_secret_changes_the_key(harness):
    config_id = _config_id(harness)
    assert harness.run("keyapp.look", {}, event=False).status == "succeeded"
    assert _check_now(harness, config_id).ok
    delivery = _event_context(harness, config_id)
    assert delivery.connection.config_id == config_id
    SEEN.append(("delivery", delivery.connection.config_id, credentials_key(delivery.connection)))
    assert {(where, cid) for where, cid, _ in SEEN} == {("run", config_id), ("check", config_id),
                                                        ("delivery", config_id)}
    assert len({key for *_, key in SEEN}) == 1  # one configuration, one key, wherever it is read

    with transaction(harness.factory) as s:  # the administrator saves a new secret
        account_id = s.scalar(select(Account.id).where(Account.account_code == ACCOUNT_CODE))
        save_connection(s, harness.registry, harness.box, account_id=account_id, user=None, application="keyapp",
                        submitted=dict(SETTINGS, secret="new-secret"), config=s.get(PluginConfig, config_id))
    before = SEEN[-1][2]
    SEEN.clear()
    harness.run("keyapp.look", {}, event=False)
    _check_now(harness, config_id)
    assert {key for *_, key in SEEN} == {credentials_key(_event_context(harness, config_id).connection)}
    assert SEEN[0][2] != before and SEEN[0][2].configuration == before.configuration == config_id


def test_two_accounts_with_the_same_settings_get_different_keys(harness):
    with transaction(harness.factory) as s:
        other = get_or_create_account(s, "OTHER", "Other account")
        other_id = configure_plugin(s, harness.registry, harness.box, other, "keyapp", SETTINGS).id
    first, second = _check_now(harness, _config_id(harness)), _check_now(harness, other_id)
    assert first.ok and second.ok
    (_, a_id, a_key), (_, b_id, b_key) = SEEN
    assert a_id != b_id and a_key != b_key and a_key.digest == b_key.digest


def test_a_delivery_thread_gets_a_new_http_session_once_the_settings_change(harness):
    config_id = _config_id(harness)
    first = _event_context(harness, config_id)
    session = first.http()
    session.cookies.set("tenant", "a")
    assert _event_context(harness, config_id).http() is session  # kept while nothing changed
    with transaction(harness.factory) as s:
        account_id = s.scalar(select(Account.id).where(Account.account_code == ACCOUNT_CODE))
        save_connection(s, harness.registry, harness.box, account_id=account_id, user=None, application="keyapp",
                        submitted=dict(SETTINGS, secret="new-secret"), config=s.get(PluginConfig, config_id))
    fresh = _event_context(harness, config_id).http()
    assert fresh is not session and "tenant" not in fresh.cookies
