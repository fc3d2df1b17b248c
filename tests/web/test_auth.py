"""Logging in and out, pages behind the login, CSRF, and the security headers."""
from __future__ import annotations

import pytest

from .conftest import csrf_token, login, make_app

PAGES = ["/", "/events/EV1/connectors", "/events/EV1/connectors/new", "/account/connectors",
         "/account/connectors/new", "/jobs/1", "/runs/1/status.json"]


def test_login_page_renders_labelled_inputs(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="login">' in html and '<label for="password">' in html


def test_good_login_redirects_home_and_shows_events(client):
    response = login(client, "admin@acme.test")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    home = client.get("/").get_data(as_text=True)
    assert "Event One" in home and "Event Two" in home
    assert "Other Event" not in home  # another account's event never shows


@pytest.mark.parametrize("login_name,password", [("admin@acme.test", "wrong"), ("nobody@acme.test", "admin-pw")])
def test_bad_login_is_refused(client, login_name, password):
    response = login(client, login_name, password)
    assert response.status_code == 401
    assert "Invalid login or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still logged out


@pytest.mark.parametrize("path", PAGES)
def test_every_page_requires_login(client, path):
    response = client.get(path)
    if path.endswith(".json"):
        assert response.status_code == 401 and response.json == {"errors": {"authorization": ["login required"]}}
    else:
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_follows_only_local_next(client):
    response = client.post("/login?next=https://evil.example/",
                           data={"login": "admin@acme.test", "password": "admin-pw"})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post("/login?next=/events/EV1/connectors", data={"login": "admin@acme.test", "password": "admin-pw"})
    assert response.headers["Location"] == "/events/EV1/connectors"


def test_logout_ends_the_session(admin):
    assert admin.post("/logout").status_code == 302
    assert admin.get("/").status_code == 302


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_lax(client):
    login(client, "admin@acme.test")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_no_inline_script_on_pages(admin):
    for path in ("/", "/events/EV1/connectors", "/account/connectors"):
        html = admin.get(path).get_data(as_text=True)
        assert "<script>" not in html and "onclick" not in html and "style=" not in html


def test_csrf_is_enforced(world):
    app = make_app(world, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    # a POST without a token is rejected, even the login form
    response = client.post("/login", data={"login": "admin@acme.test", "password": "admin-pw"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    # with the page's token it goes through
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"login": "admin@acme.test", "password": "admin-pw", "csrf_token": token})
    assert response.status_code == 302
    # and a logged-in action without a token is refused too
    assert client.post("/events/EV1/connectors/clear").status_code == 400
    token = csrf_token(client.get("/events/EV1/connectors").get_data(as_text=True))
    assert client.post("/events/EV1/connectors/clear", data={"csrf_token": token}).status_code == 302
    # the generated New Job form carries its token, and is refused without it
    form_url = "/events/EV1/connectors/new?application=testapp&job_type=testapp.import"
    data = {"p_list_name": "L", "p_attendee_type": "VIP", "run_mode": "now"}
    assert client.post(form_url, data=data).status_code == 400
    token = csrf_token(client.get(form_url).get_data(as_text=True))
    assert client.post(form_url, data={**data, "csrf_token": token}).status_code == 302
    # logging out is a POST with a token too
    assert client.post("/logout").status_code == 400


def test_status_endpoint_is_get_only(admin):
    assert admin.post("/runs/1/status.json").status_code == 405


# -- throttling per address, across logins ---------------------------------------------------------------

def _spray(client, count: int, address: str = "127.0.0.1"):
    """``count`` failed log-ins from ``address``, each for a different login (never one login's own limit)."""
    return [client.post("/login", data={"login": f"user{i}@spray.test", "password": "Summer2026!"},
                        environ_base={"REMOTE_ADDR": address}) for i in range(count)]


def test_many_logins_failing_from_one_address_pause_that_address(client):
    from connectors.login_throttle import MAX_ADDRESS_FAILURES, MAX_FAILURES
    assert MAX_ADDRESS_FAILURES == 20 and MAX_ADDRESS_FAILURES > MAX_FAILURES
    answers = _spray(client, MAX_ADDRESS_FAILURES)
    assert [r.status_code for r in answers[:-1]] == [401] * (MAX_ADDRESS_FAILURES - 1)
    locked = answers[-1]
    assert locked.status_code == 429
    assert "Too many failed log-ins from your address. Try again in 15 minutes." in locked.get_data(as_text=True)
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60 + 1
    right = login(client, "admin@acme.test")  # even the right password of a login never tried: no check at all
    assert right.status_code == 429 and "from your address" in right.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_the_address_pause_leaves_other_addresses_alone_and_ends_with_the_window(client, world):
    from datetime import timedelta

    from sqlalchemy import update

    from connectors.login_throttle import MAX_ADDRESS_FAILURES, WINDOW
    from connectors.models import LoginFailure, utcnow
    _spray(client, MAX_ADDRESS_FAILURES)
    elsewhere = client.post("/login", data={"login": "admin@acme.test", "password": "admin-pw"},
                            environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 302
    client.post("/logout")
    with world.session() as s, s.begin():
        s.execute(update(LoginFailure).values(at=utcnow() - WINDOW - timedelta(seconds=1)))
    assert login(client, "admin@acme.test").status_code == 302


def test_a_good_log_in_does_not_wipe_the_addresss_other_failures(client):
    from connectors.login_throttle import MAX_ADDRESS_FAILURES
    _spray(client, MAX_ADDRESS_FAILURES - 1)
    assert login(client, "admin@acme.test").status_code == 302  # 19 failures: not paused yet
    client.post("/logout")
    assert _spray(client, 1)[0].status_code == 429  # the 20th failure pauses the address all the same
