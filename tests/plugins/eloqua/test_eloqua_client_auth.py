"""EloquaClient against the sandbox: base URL discovery and rediscovery, Basic and OAuth, and the
single-use refresh token chain — rotated, saved before use, never lost to a failed save."""
from __future__ import annotations

import os

import pytest

from connectors_eloqua.client import EloquaClient
from connectors_eloqua.discovery import IDENTITY_CACHE
from connectors_eloqua.errors import EloquaAuthError, EloquaPermissionError, TokenPersistError
from connectors_eloqua.tokens import FileTokenStore, MemoryTokenStore, TokenSet, clear_shared_stores

from .support import login_calls, pod_calls

CONTACTS = r"(?i)/api/rest/1\.0/data/contacts"


def token_calls(sandbox):
    return login_calls(sandbox, "POST", r"(?i)/auth/oauth2/token")


# -- discovery -------------------------------------------------------------------------------------------
def test_one_id_call_serves_many_requests_and_clients(sandbox, client, make_client):
    for _ in range(3):
        client.contact_fields()
    make_client().get_contact(1)
    assert len(login_calls(sandbox, "GET", "/id")) == 1
    assert {e.host for e in pod_calls(sandbox)} == {"p01"}
    assert all(e.auth == "basic" for e in sandbox.journal)
    assert client.site().base_url == sandbox.pod_url("p01")


def test_a_pod_move_is_found_through_id_and_the_call_replayed(sandbox, client):
    client.get_contact(1)
    sandbox.move_site("p02")
    assert client.get_contact(2)["id"] == "2"
    calls = [(e.host, e.status) for e in sandbox.journal if e.path.startswith("/API") or e.path == "/id"]
    assert calls[-4:] == [("p01", 200), ("p01", 401), ("login", 200), ("p02", 200)]
    assert client.site().base_url == sandbox.pod_url("p02")
    client.get_contact(3)  # cached: no new /id
    assert len(login_calls(sandbox, "GET", "/id")) == 2


def test_bad_basic_credentials_are_an_auth_error(sandbox, make_client):
    bad = make_client(dict(sandbox.connection, password="wrong"))
    with pytest.raises(EloquaAuthError, match="Not authenticated"):
        bad.get_contact(1)
    assert not pod_calls(sandbox)


def test_credentials_refused_after_discovery_fail_cleanly(sandbox, client):
    client.get_contact(1)
    sandbox.disable_user("demo.user")
    with pytest.raises(EloquaAuthError):
        client.get_contact(1)


def test_a_401_with_good_credentials_is_a_permission_error(sandbox, client):
    client.get_contact(1)
    sandbox.fail_next(1, 401, text="You are not authorized to make this request", path=CONTACTS)
    with pytest.raises(EloquaPermissionError, match="permission"):
        list(client.contacts())
    assert len(login_calls(sandbox, "GET", "/id")) == 2  # checked once, no loop


# -- OAuth ---------------------------------------------------------------------------------------------------
def test_oauth_uses_a_bearer_and_refreshes_once(sandbox, make_client):
    connection = sandbox.oauth_connection()
    store = MemoryTokenStore()
    client = make_client(connection, token_store=store)
    for _ in range(3):
        client.get_contact(1)
    assert len(token_calls(sandbox)) == 1 and {e.auth for e in pod_calls(sandbox)} == {"bearer"}
    assert token_calls(sandbox)[0].body["grant_type"] == ["refresh_token"]
    assert token_calls(sandbox)[0].header("Authorization").startswith("Basic ")  # client auth
    assert store.load().refresh_token != connection["refresh_token"]


def test_rotation_is_saved_before_the_new_access_token_is_used(sandbox, make_client):
    seen_at_save = []

    class WatchingStore(MemoryTokenStore):
        def save(self, tokens):
            used = [e for e in sandbox.journal if e.header("Authorization") == f"Bearer {tokens.access_token}"]
            seen_at_save.append(len(used))
            super().save(tokens)

    connection = sandbox.oauth_connection()
    store = WatchingStore(TokenSet(connection["refresh_token"]))
    client = make_client(connection, token_store=store)
    client.get_contact(1)
    sandbox.expire_access_tokens()  # mid-run expiry: 401, /id refuses the token, refresh, replay
    client.get_contact(2)
    assert seen_at_save == [0, 0] and len(store.saves) == 2
    old, new = store.saves
    assert old.refresh_token not in sandbox.identity.live_refresh_tokens()
    assert new.refresh_token in sandbox.identity.live_refresh_tokens()


def test_a_used_refresh_token_is_refused_and_the_chain_reloaded_from_the_store(sandbox, make_client):
    connection = sandbox.oauth_connection()
    store = MemoryTokenStore(TokenSet(connection["refresh_token"]))
    worker_a = make_client(connection, token_store=store)
    worker_a.get_contact(1)  # rotates the chain and saves it
    stale = MemoryTokenStore(TokenSet(connection["refresh_token"]))
    with pytest.raises(EloquaAuthError, match="already used"):
        make_client(connection, token_store=stale).get_contact(1)
    worker_b = make_client(connection, token_store=store)  # same store: takes A's tokens, no refresh
    worker_b.get_contact(1)
    assert len(token_calls(sandbox)) == 2  # A's refresh and the stale attempt


def test_a_failed_save_never_uses_the_new_token_and_loses_nothing(sandbox, make_client):
    """The 'crash' is a store that fails once: the client must not use the access token whose
    refresh token is not saved, and must save that same set before anything else."""

    class FlakyStore(MemoryTokenStore):
        fail = True

        def save(self, tokens):
            if self.fail:
                self.fail = False
                raise OSError("database gone")
            super().save(tokens)

    connection = sandbox.oauth_connection()
    store = FlakyStore(TokenSet(connection["refresh_token"]))
    client = make_client(connection, token_store=store)
    with pytest.raises(TokenPersistError):
        client.get_contact(1)
    assert not pod_calls(sandbox) and not login_calls(sandbox, "GET", "/id")
    client.get_contact(1)  # saves the kept set first, then works with it
    assert len(token_calls(sandbox)) == 1 and len(store.saves) == 1
    assert store.load().refresh_token in sandbox.identity.live_refresh_tokens()


def test_a_new_process_continues_the_chain_from_the_store(sandbox, make_client, tmp_path):
    """A crash after the save, before the token was used: the next process reads the saved set."""
    connection = sandbox.oauth_connection()
    path = tmp_path / "tokens.json"
    make_client(connection, token_store=FileTokenStore(path)).get_contact(1)
    saved = FileTokenStore(path).load()
    assert saved.refresh_token != connection["refresh_token"] and saved.access_token
    IDENTITY_CACHE.clear()  # nothing of the first process survives but the file
    clear_shared_stores()
    fresh = make_client(connection, token_store=FileTokenStore(path))
    fresh.get_contact(2)
    assert len(token_calls(sandbox)) == 1  # the saved access token was still good: reused


def test_file_token_store_replaces_atomically(tmp_path, monkeypatch):
    store = FileTokenStore(tmp_path / "tokens.json")
    store.save(TokenSet("r1", "a1", 10.0))

    def crash(*args):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save(TokenSet("r2", "a2", 20.0))
    assert store.load() == TokenSet("r1", "a1", 10.0)
    assert os.listdir(tmp_path) == ["tokens.json"]


def test_password_grant_starts_a_chain_and_bad_clients_are_refused(sandbox, make_client):
    connection = {"site": "DemoCompany", "username": "demo.user", "password": "demo-password",
                  "client_id": "demo-client", "client_secret": "demo-secret", "login_url": sandbox.url}
    make_client(connection).get_contact(1)
    assert token_calls(sandbox)[0].body["grant_type"] == ["password"]
    assert token_calls(sandbox)[0].body["username"] == ["DemoCompany\\demo.user"]
    with pytest.raises(EloquaAuthError, match="invalid_client"):
        make_client(dict(connection, client_secret="nope")).get_contact(1)


def test_an_expired_refresh_token_asks_for_a_new_authorisation(sandbox, make_client):
    connection = sandbox.oauth_connection()
    sandbox.expire_refresh_tokens()
    with pytest.raises(EloquaAuthError, match="expired"):
        make_client(connection).get_contact(1)


def test_clients_from_the_same_settings_share_the_chain_in_process(sandbox):
    connection = sandbox.oauth_connection()
    EloquaClient.from_connection(connection).get_contact(1)
    EloquaClient.from_connection(connection).get_contact(2)  # would fail with the spent token
    assert len(token_calls(sandbox)) == 1


def test_a_plain_callback_is_a_token_store(sandbox, make_client):
    """What the core will pass: a function that persists each new set (and must not return
    before it is safe). It runs before any call with the new access token."""
    saved = []

    def persist(tokens):
        assert not [e for e in sandbox.journal if e.header("Authorization") == f"Bearer {tokens.access_token}"]
        saved.append(tokens)

    client = make_client(sandbox.oauth_connection(), token_store=persist)
    client.get_contact(1)
    sandbox.expire_access_tokens()
    client.get_contact(1)
    assert len(saved) == 2 and saved[1].refresh_token in sandbox.identity.live_refresh_tokens()
    last = [e for e in pod_calls(sandbox) if e.auth == "bearer"][-1]
    assert last.header("Authorization") == f"Bearer {saved[1].access_token}"
