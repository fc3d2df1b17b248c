"""The OAuth refresh-token chain kept by the core (spec §1.2): Eloqua's refresh tokens are single
use, so every worker must spend the latest one, never the same one twice, and keep the new one
durably — jobs, deliveries and "Test connection" alike, on SQLite and on PostgreSQL."""
from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import select

import connectors_eloqua.plugin as plugin
from connectors import ConnectionState
from connectors.models import PluginConfig
from connectors.testing import Harness
from connectors_eloqua.application import ELOQUA

from . import token_worker
from .support import login_calls

TOKEN = r"(?i)/auth/oauth2/token"


@pytest.fixture(params=["sqlite", "postgresql"])
def oauth_harness(request, tmp_path, sandbox):
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    h = Harness(tmp_path, plugins={"eloqua": plugin}, database_url=url)
    h.configure("eloqua", sandbox.oauth_connection())
    yield h
    h.close()


def config_id(h) -> int:
    with h.factory() as s:
        return s.scalar(select(PluginConfig.id).where(PluginConfig.application == "eloqua").order_by(PluginConfig.id.desc()))


def test_two_worker_processes_share_one_chain_and_never_spend_a_token_twice(oauth_harness, sandbox):
    sandbox.access_ttl = 61  # usable for about a second (clients refresh a minute early): many refreshes
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    url = oauth_harness.engine.url.render_as_string(hide_password=False)
    workers = [ctx.Process(target=token_worker.spend, args=(url, config_id(oauth_harness), 25, 0.12, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    assert [errors for _, errors in outcomes] == [[], []]
    refreshes = sum(count for count, _ in outcomes)
    assert refreshes >= 3  # the chain was rotated, by both sides in turn
    answers = [e.status for e in login_calls(sandbox, "POST", TOKEN)]
    assert answers == [200] * refreshes  # no refresh token was offered twice (that answers 400 invalid_grant)
    stored = ConnectionState(oauth_harness.factory, oauth_harness.box, config_id(oauth_harness)).load()
    assert sandbox.identity.live_refresh_tokens() == [stored["refresh_token"]]  # the one live token is the stored one


def test_test_connection_keeps_the_chain_the_jobs_use(oauth_harness, sandbox):
    state = ConnectionState(oauth_harness.factory, oauth_harness.box, config_id(oauth_harness))
    connection = {**oauth_harness_connection(oauth_harness), **state.load()}
    for _ in range(2):
        sandbox.expire_access_tokens()
        assert ELOQUA.check(connection, state=state).ok  # each check refreshes: the chain moves on
    assert sandbox.identity.live_refresh_tokens() == [state.load()["refresh_token"]]
    result = oauth_harness.run("eloqua.activity_on_registration_status", {})  # a job on the same chain
    assert result.status == "succeeded", result.error
    assert sandbox.identity.live_refresh_tokens() == [state.load()["refresh_token"]]


def oauth_harness_connection(h) -> dict:
    with h.factory() as s:
        return dict(s.get(PluginConfig, config_id(h)).connection or {})


def test_a_check_called_without_the_state_uses_the_stored_access_token_and_spends_nothing(oauth_harness, sandbox):
    """An older core calls ``check(connection)`` alone: while the jobs' access token is good, no refresh."""
    assert oauth_harness.run("eloqua.activity_on_registration_status", {}).status == "succeeded"
    state = ConnectionState(oauth_harness.factory, oauth_harness.box, config_id(oauth_harness))
    before = len(login_calls(sandbox, "POST", TOKEN))
    assert ELOQUA.check({**oauth_harness_connection(oauth_harness), **state.load()}).ok
    assert len(login_calls(sandbox, "POST", TOKEN)) == before
    assert sandbox.identity.live_refresh_tokens() == [state.load()["refresh_token"]]
