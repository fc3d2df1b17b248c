"""API tokens: per-user tokens stored hashed, shown once on the API tokens page, revocable by their
owner only, and acting as their user (an inactive user's token stops working); an account's
ingestion tokens listed and revoked by its administrators; both kinds with an optional expiry
(an expired token answers 401 like a wrong one), and the ``connectors tokens`` commands."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from sqlalchemy import select

from connectors.db import transaction
from connectors.models import Account, ApiToken, User, utcnow
from connectors.models.tokens import UserApiToken
from connectors.tokens import (
    TokenError, account_for_token, account_tokens, create_token, create_user_token, expiry, revoke_account_token,
    token_state, user_for_token,
)

from .conftest import csrf_token, login, make_app


def test_only_a_hash_is_stored_and_the_token_finds_its_user(world):
    with transaction(world.services.factory) as s:
        user = s.scalar(select(User).where(User.login == "builder@acme.test"))
        row, token = create_user_token(s, user, "  sync script ")
        assert token.startswith("cnu_") and row.name == "sync script" and row.prefix == token[:12]
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    with transaction(world.services.factory) as s:
        assert user_for_token(s, token).login == "builder@acme.test"
        assert s.scalar(select(UserApiToken.last_used_at)) is not None
        assert user_for_token(s, token[:-1] + "x") is None and user_for_token(s, None) is None
        assert user_for_token(s, "cnk_" + token[4:]) is None


def test_a_token_needs_a_name_and_an_active_user(world):
    with transaction(world.services.factory) as s:
        user = s.scalar(select(User).where(User.login == "builder@acme.test"))
        for name, field in (("", "name"), ("x" * 201, "name")):
            try:
                create_user_token(s, user, name)
            except TokenError as exc:
                assert exc.field == field
            else:
                raise AssertionError("accepted a bad name")
        _, token = create_user_token(s, user, "ok")
        user.is_active = False
    with transaction(world.services.factory) as s:
        assert user_for_token(s, token) is None  # a deactivated user's tokens stop working


def test_the_page_shows_a_new_token_once_and_its_owner_revokes_it(world):
    app = make_app(world, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert login(client, "builder@acme.test", csrf_token=csrf_token(client.get("/login").get_data(as_text=True))).status_code == 302
    page = client.get("/account/api-tokens/")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    csrf = csrf_token(page.get_data(as_text=True))
    assert client.post("/account/api-tokens/", data={"name": "no csrf"}).status_code == 400
    assert client.post("/account/api-tokens/", data={"name": "", "csrf_token": csrf}).status_code == 422
    created = client.post("/account/api-tokens/", data={"name": "nightly", "csrf_token": csrf}).get_data(as_text=True)
    token = re.search(r'id="new-token">(cnu_[\w-]+)<', created).group(1)
    assert client.get("/account/api-tokens/").get_data(as_text=True).count(token) == 0  # shown once
    api = app.test_client()
    assert api.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with world.session() as s:
        token_id = s.scalar(select(UserApiToken.id).where(UserApiToken.name == "nightly"))
    other = app.test_client()  # another account's administrator cannot revoke it
    assert login(other, "admin@other.test", csrf_token=csrf_token(other.get("/login").get_data(as_text=True))).status_code == 302
    other_csrf = csrf_token(other.get("/account/api-tokens/").get_data(as_text=True))
    other.post("/account/api-tokens/revoke", data={"token_id": token_id, "csrf_token": other_csrf})
    assert api.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.post("/account/api-tokens/revoke", data={"token_id": token_id, "csrf_token": csrf}).status_code == 302
    assert api.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Revoked" in client.get("/account/api-tokens/").get_data(as_text=True)


@pytest.fixture
def cli(world, monkeypatch):
    from connectors import cli
    monkeypatch.setenv("CONNECTORS_DATABASE_URL", world.services.settings.database_url)
    monkeypatch.setenv("CONNECTORS_INSTANCE_DIR", str(world.services.settings.instance_dir))
    monkeypatch.setenv("CONNECTORS_SECRET_KEY", "test-key")
    return cli


def test_the_cli_creates_a_user_token(world, cli, capsys):
    assert cli.main(["tokens", "create", "--user", "builder@acme.test", "--name", "cron"]) == 0
    token = capsys.readouterr().out.strip()
    with world.session() as s:
        assert user_for_token(s, token).login == "builder@acme.test"
    assert cli.main(["tokens", "create", "--user", "nobody@acme.test", "--name", "cron"]) == 2
    assert "no user 'nobody@acme.test'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one of --account / --user, not both
        cli.main(["tokens", "create", "--user", "builder@acme.test", "--account", "ACME", "--name", "x"])


# -- expiry -----------------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=timezone.utc)


def test_expiry_is_days_from_now_or_midnight_utc_on_a_date():
    assert expiry(now=NOW) is None and expiry("", "", now=NOW) is None
    assert expiry(30, now=NOW) == NOW + timedelta(days=30)
    assert expiry("7", now=NOW) == NOW + timedelta(days=7)
    assert expiry(on="2027-01-31", now=NOW) == datetime(2027, 1, 31, tzinfo=timezone.utc)
    assert expiry(on=date(2027, 1, 31), now=NOW) == datetime(2027, 1, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize("days,on,reason", [
    ("0", None, "between 1 and 3650 days"), ("3651", None, "between 1 and 3650 days"),
    ("soon", None, "whole number"), (None, "31/01/2027", "YYYY-MM-DD"), (None, "2026-12-08", "in the future"),
    (None, "2040-01-01", "at most 3650 days"), ("3", "2027-01-31", "not both"),
])
def test_a_bad_expiry_says_why(days, on, reason):
    with pytest.raises(TokenError) as caught:
        expiry(days, on, now=NOW)
    assert caught.value.field == "expires" and reason in caught.value.reason


def test_an_expired_user_token_answers_401_like_a_wrong_one(world, app):
    with transaction(world.services.factory) as s:
        user = s.scalar(select(User).where(User.login == "builder@acme.test"))
        _, live = create_user_token(s, user, "live", utcnow() + timedelta(days=1))
        old, expired = create_user_token(s, user, "old", utcnow() + timedelta(days=1))
        old.expires_at = utcnow() - timedelta(seconds=1)
    api = app.test_client()
    assert api.get("/api/v1/events", headers={"Authorization": f"Bearer {live}"}).status_code == 200
    refused = api.get("/api/v1/events", headers={"Authorization": f"Bearer {expired}"})
    wrong = api.get("/api/v1/events", headers={"Authorization": "Bearer cnu_wrong"})
    assert refused.status_code == wrong.status_code == 401 and refused.json == wrong.json
    with world.session() as s:
        states = {t.name: token_state(t) for t in s.scalars(select(UserApiToken))}
    assert states == {"live": "live", "old": "expired"}


def test_an_expired_ingestion_token_answers_401(world, app):
    with transaction(world.services.factory) as s:
        acme = s.get(Account, world.ids["acme"])
        _, live = create_token(s, acme, "platform", expires_at=utcnow() + timedelta(days=1))
        old, expired = create_token(s, acme, "old platform")
        old.expires_at = utcnow() - timedelta(seconds=1)
    with world.session() as s:
        assert account_for_token(s, live).account_code == "ACME"
        assert account_for_token(s, expired) is None
    client = app.test_client()
    assert client.post("/api/v1/status-changes", json=[], headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    assert client.post("/api/v1/status-changes", json=[], headers={"Authorization": f"Bearer {live}"}).status_code == 200


def test_the_page_creates_a_token_with_an_expiry_and_refuses_a_bad_one(builder):
    bad = builder.post("/account/api-tokens/", data={"name": "x", "expires_in_days": "0"})
    assert bad.status_code == 422 and "between 1 and 3650 days" in bad.get_data(as_text=True)
    assert builder.post("/account/api-tokens/", data={"name": "month", "expires_in_days": "30"}).status_code == 200
    page = builder.get("/account/api-tokens/").get_data(as_text=True)
    assert "month" in page and ">Live<" in page and "never" in page  # never used; it does expire
    assert "Ingestion tokens" not in page  # an event builder sees only their own tokens


# -- ingestion tokens: listed and revoked by the account's administrators ---------------------------------

def test_administrators_list_create_and_revoke_their_accounts_ingestion_tokens(world, admin, app):
    created = admin.post("/account/api-tokens/ingestion", data={"name": "Certain production", "expires_in_days": "90"})
    assert created.status_code == 200
    token = re.search(r'id="new-token">(cnk_[\w-]+)<', created.get_data(as_text=True)).group(1)
    page = admin.get("/account/api-tokens/").get_data(as_text=True)
    assert "Ingestion tokens of your account" in page and "Certain production" in page and token[:12] in page
    assert token not in page  # shown once
    assert admin.post("/account/api-tokens/ingestion", data={"name": ""}).status_code == 422
    with world.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.name == "Certain production"))
        assert row.account_id == world.ids["acme"] and row.expires_at > utcnow() + timedelta(days=89)
    post = app.test_client()
    assert post.post("/api/v1/status-changes", json=[], headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert admin.post("/account/api-tokens/ingestion/revoke", data={"token_id": row.id}).status_code == 302
    assert post.post("/api/v1/status-changes", json=[], headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ">Revoked<" in admin.get("/account/api-tokens/").get_data(as_text=True)


def test_ingestion_tokens_are_for_administrators_of_their_own_account(world, app):
    with transaction(world.services.factory) as s:
        row, token = create_token(s, s.get(Account, world.ids["acme"]), "Acme's feed")
    builder = app.test_client()
    assert login(builder, "builder@acme.test").status_code == 302
    assert builder.post("/account/api-tokens/ingestion", data={"name": "mine"}).status_code == 403
    assert builder.post("/account/api-tokens/ingestion/revoke", data={"token_id": row.id}).status_code == 403
    other = app.test_client()
    assert login(other, "admin@other.test").status_code == 302
    assert "Acme&#39;s feed" not in other.get("/account/api-tokens/").get_data(as_text=True)
    own = app.test_client()
    assert login(own, "admin@acme.test").status_code == 302
    assert "Acme&#39;s feed" in own.get("/account/api-tokens/").get_data(as_text=True)
    other.post("/account/api-tokens/ingestion/revoke", data={"token_id": row.id})
    with world.session() as s:
        assert account_for_token(s, token) is not None  # another account's administrator revoked nothing
        assert not revoke_account_token(s, world.ids["other"], row.id)
        assert [t.name for t in account_tokens(s, world.ids["acme"])] == ["Acme's feed"]


# -- the CLI: tokens list | create | revoke, for both kinds ------------------------------------------------

def test_the_cli_lists_creates_and_revokes_ingestion_tokens(world, cli, capsys):
    assert cli.main(["tokens", "create", "--account", "ACME", "--name", "platform", "--expires-in", "30"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("cnk_") and "expires" in out.err
    assert cli.main(["tokens", "list", "--account", "ACME", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "platform" and listed["prefix"] == token[:12] and listed["state"] == "live"
    assert listed["expires"] and listed["last_used"] is None and listed["created"]
    assert cli.main(["tokens", "list", "--account", "ACME"]) == 0
    table = capsys.readouterr().out
    assert "platform" in table and token[:12] in table and "EXPIRES" in table
    assert cli.main(["tokens", "revoke", "--account", "OTHER", str(listed["id"])]) == 2  # not OTHER's token
    assert cli.main(["tokens", "revoke", "--account", "ACME", str(listed["id"])]) == 0
    with world.session() as s:
        assert account_for_token(s, token) is None
    assert cli.main(["tokens", "revoke", "--account", "ACME", str(listed["id"])]) == 2  # already revoked
    assert cli.main(["tokens", "list", "--account", "NOPE"]) == 2
    assert "no account 'NOPE'" in capsys.readouterr().err


def test_the_cli_lists_and_revokes_user_tokens_with_an_expiry_date(world, cli, capsys):
    on = (utcnow() + timedelta(days=10)).date().isoformat()
    assert cli.main(["tokens", "create", "--user", "builder@acme.test", "--name", "cron", "--expires-on", on]) == 0
    token = capsys.readouterr().out.strip()
    assert cli.main(["tokens", "list", "--user", "builder@acme.test", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["expires"] == f"{on} 00:00" and listed["state"] == "live"
    assert cli.main(["tokens", "revoke", "--user", "admin@acme.test", str(listed["id"])]) == 2  # not theirs
    assert cli.main(["tokens", "revoke", "--user", "builder@acme.test", str(listed["id"])]) == 0
    with world.session() as s:
        assert user_for_token(s, token) is None
    assert cli.main(["tokens", "create", "--user", "builder@acme.test", "--name", "x", "--expires-in", "0"]) == 2
    assert "expires: between 1 and 3650 days" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a number of days or a date, not both
        cli.main(["tokens", "create", "--user", "builder@acme.test", "--name", "x", "--expires-in", "1",
                  "--expires-on", on])


@pytest.mark.parametrize("token_id", [str(2**70), "-1", "0", "x", "9" * 5000])
def test_a_revoke_with_an_id_that_cannot_be_a_token_changes_nothing(world, admin, token_id):
    """Out of range for the database, negative or not a number: "no such token", never a 500."""
    for url in ("/account/api-tokens/revoke", "/account/api-tokens/ingestion/revoke"):
        answer = admin.post(url, data={"token_id": token_id}, follow_redirects=True)
        assert answer.status_code == 200 and "No such live" in answer.get_data(as_text=True)
