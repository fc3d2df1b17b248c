"""Per-user API tokens: stored hashed, shown once on the API tokens page, revocable by their owner
only, and acting as their user (an inactive user's token stops working)."""
from __future__ import annotations

import hashlib
import re

import pytest

from sqlalchemy import select

from connectors.db import transaction
from connectors.models import User
from connectors.models.tokens import UserApiToken
from connectors.tokens import TokenError, create_user_token, user_for_token

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


def test_the_cli_creates_a_user_token(world, monkeypatch, capsys):
    from connectors import cli
    monkeypatch.setenv("CONNECTORS_DATABASE_URL", world.services.settings.database_url)
    monkeypatch.setenv("CONNECTORS_INSTANCE_DIR", str(world.services.settings.instance_dir))
    monkeypatch.setenv("CONNECTORS_SECRET_KEY", "test-key")
    assert cli.main(["tokens", "create", "--user", "builder@acme.test", "--name", "cron"]) == 0
    token = capsys.readouterr().out.strip()
    with world.session() as s:
        assert user_for_token(s, token).login == "builder@acme.test"
    assert cli.main(["tokens", "create", "--user", "nobody@acme.test", "--name", "cron"]) == 2
    assert "no user 'nobody@acme.test'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one of --account / --user, not both
        cli.main(["tokens", "create", "--user", "builder@acme.test", "--account", "ACME", "--name", "x"])
