"""Server-side sessions: a signed cookie alone keeps nobody signed in. Logging out, a password
change and a deactivation end sessions on the server, so a saved copy of the cookie replayed
afterwards is sent to the login page (Flask's cookie is still validly signed: only the server's
``login_sessions`` row says no)."""
from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select, update

from connectors.db import transaction
from connectors.login_sessions import IDLE_LIMIT, change_password, deactivate_user, user_sessions
from connectors.models import LoginSession, User, UserApiToken, utcnow
from connectors.tokens import create_user_token, user_for_token

from .conftest import login, make_app


def _signed_in(app, login_name: str, password: str | None = None):
    client = app.test_client()
    assert login(client, login_name, password).status_code == 302
    assert client.get("/").status_code == 200
    return client


def _replay(app, cookie: str):
    """A fresh browser holding nothing but a saved copy of the session cookie."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _user(s, login_name: str) -> User:
    return s.scalar(select(User).where(User.login == login_name))


def test_a_cookie_replayed_after_logout_is_signed_out(app):
    client = _signed_in(app, "admin@acme.test")
    saved = client.get_cookie("session").value
    assert _replay(app, saved).get("/").status_code == 200  # the copy works while the session is live
    assert client.post("/logout").status_code == 302
    replayed = _replay(app, saved).get("/")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]
    assert _replay(app, saved).get("/runs/1/status.json").status_code == 401


def test_logout_ends_only_its_own_session(app, world):
    first, second = _signed_in(app, "admin@acme.test"), _signed_in(app, "admin@acme.test")
    first.post("/logout")
    assert first.get("/").status_code == 302 and second.get("/").status_code == 200
    with world.session() as s:
        rows = s.scalars(select(LoginSession).order_by(LoginSession.id)).all()
        assert [(r.end_reason is not None, r.end_reason) for r in rows] == [(True, "logout"), (False, None)]
        assert len(user_sessions(s, world.ids["admin"])) == 1


def test_a_password_change_ends_every_session_of_the_user_and_no_one_elses(app, world):
    laptop, phone = _signed_in(app, "admin@acme.test"), _signed_in(app, "admin@acme.test")
    builder = _signed_in(app, "builder@acme.test")
    saved = laptop.get_cookie("session").value
    with transaction(world.services.factory) as s:
        assert change_password(s, _user(s, "admin@acme.test"), "a-new-password") == 2
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302
    assert _replay(app, saved).get("/").status_code == 302
    assert builder.get("/").status_code == 200  # another user is not touched
    assert login(app.test_client(), "admin@acme.test").status_code == 401  # the old password is gone
    _signed_in(app, "admin@acme.test", "a-new-password")


def test_a_too_short_password_is_refused_and_changes_nothing(app, world):
    client = _signed_in(app, "admin@acme.test")
    with transaction(world.services.factory) as s:
        try:
            change_password(s, _user(s, "admin@acme.test"), "short")
        except ValueError as exc:
            assert "at least 8 characters" in str(exc)
        else:
            raise AssertionError("accepted a 5-character password")
    assert client.get("/").status_code == 200


def test_deactivation_ends_sessions_and_api_tokens_at_once(app, world):
    client = _signed_in(app, "builder@acme.test")
    with transaction(world.services.factory) as s:
        _, token = create_user_token(s, _user(s, "builder@acme.test"), "script")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/events", headers=bearer).status_code == 200
    with transaction(world.services.factory) as s:
        assert deactivate_user(s, _user(s, "builder@acme.test")) == 1
    assert client.get("/").status_code == 302
    assert api.get("/api/v1/events", headers=bearer).status_code == 401
    assert login(app.test_client(), "builder@acme.test").status_code == 401
    with transaction(world.services.factory) as s:  # reactivating brings neither back
        _user(s, "builder@acme.test").is_active = True
    assert client.get("/").status_code == 302
    with world.session() as s:
        assert user_for_token(s, token) is None
        assert s.scalar(select(UserApiToken.revoked)) is True


def test_an_inactive_users_live_session_row_does_not_sign_them_in(app, world):
    """Even a deactivation written straight to the table (not through ``deactivate_user``) signs them out."""
    client = _signed_in(app, "builder@acme.test")
    with transaction(world.services.factory) as s:
        s.execute(update(User).where(User.login == "builder@acme.test").values(is_active=False))
    assert client.get("/").status_code == 302


def test_a_cookie_without_a_server_side_session_is_signed_out(app, world):
    """A cookie from before the upgrade (Flask-Login's user id only) is not enough."""
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(world.ids["admin"])
        cookie["_fresh"] = True
    assert client.get("/").status_code == 302


def test_a_session_unused_past_the_idle_limit_is_over(app, world):
    client = _signed_in(app, "admin@acme.test")
    with transaction(world.services.factory) as s:
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - IDLE_LIMIT - timedelta(seconds=1)))
    assert client.get("/").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute(app, world):
    client = _signed_in(app, "admin@acme.test")
    earlier = utcnow() - timedelta(minutes=2)
    with transaction(world.services.factory) as s:
        s.execute(update(LoginSession).values(last_seen_at=earlier))
    assert client.get("/").status_code == 200
    with world.session() as s:
        seen = s.scalar(select(LoginSession.last_seen_at))
    assert seen > earlier + timedelta(minutes=1)
    assert client.get("/").status_code == 200
    with world.session() as s:
        assert s.scalar(select(LoginSession.last_seen_at)) == seen  # not rewritten within the minute


def test_the_cli_changes_a_password_and_deactivates_ending_sessions(app, world, monkeypatch, capsys):
    from connectors import cli
    monkeypatch.setenv("CONNECTORS_DATABASE_URL", world.services.settings.database_url)
    monkeypatch.setenv("CONNECTORS_INSTANCE_DIR", str(world.services.settings.instance_dir))
    monkeypatch.setenv("CONNECTORS_SECRET_KEY", "test-key")
    client = _signed_in(app, "admin@acme.test")
    monkeypatch.setattr("sys.stdin", io.StringIO("changed-by-cli\n"))
    assert cli.main(["users", "set-password", "admin@acme.test"]) == 0
    assert "1 session(s) ended" in capsys.readouterr().out
    assert client.get("/").status_code == 302
    client = _signed_in(app, "admin@acme.test", "changed-by-cli")
    assert cli.main(["users", "deactivate", "admin@acme.test"]) == 0
    assert client.get("/").status_code == 302
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["users", "set-password", "builder@acme.test"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert cli.main(["users", "deactivate", "nobody@acme.test"]) == 2


def test_sessions_work_with_csrf_on(world):
    from .conftest import csrf_token
    app = make_app(world, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert login(client, "admin@acme.test", csrf_token=token).status_code == 302
    saved = client.get_cookie("session").value
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert _replay(app, saved).get("/").status_code == 302
