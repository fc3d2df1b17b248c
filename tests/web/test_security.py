"""Log-in throttling, session cookies, security headers on every response, and pages that work
under the Content-Security-Policy (no inline script, style or handler anywhere)."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from connectors.config import Settings
from connectors.login_throttle import MAX_FAILURES, WINDOW
from connectors.models import LoginFailure, utcnow
from connectors.services import Services
from connectors.web import create_app

from .conftest import PASSWORDS, add_job, login, make_app

LOCKED = "Too many failed log-ins for this login from your address."
TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def _fail(client, login_name="admin@acme.test", **kw):
    return client.post("/login", data={"login": login_name, "password": "wrong"}, **kw)


def _login(client, login_name, **kw):
    """The right password, with request options (``headers``, ``environ_base``)."""
    return client.post("/login", data={"login": login_name, "password": PASSWORDS[login_name.strip().lower()]}, **kw)


def _failures(world) -> int:
    with world.session() as s:
        return s.scalar(select(func.count()).select_from(LoginFailure))


# -- throttling --------------------------------------------------------------------------------------------

def test_five_failures_lock_the_login_from_that_address_even_for_the_right_password(client):
    for _ in range(MAX_FAILURES - 1):
        response = _fail(client)
        assert response.status_code == 401 and "Invalid login or password." in response.get_data(as_text=True)
    locked = _fail(client)
    assert locked.status_code == 429 and LOCKED in locked.get_data(as_text=True)
    assert "Try again in 15 minutes." in locked.get_data(as_text=True)
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60 + 1
    right = login(client, "admin@acme.test")
    assert right.status_code == 429 and LOCKED in right.get_data(as_text=True)
    assert login(client, " ADMIN@acme.test ", "wrong").status_code == 429  # case and spaces do not reset it
    assert client.get("/").status_code == 302  # not logged in


def test_the_lock_is_per_login_and_address(client):
    for _ in range(MAX_FAILURES):
        _fail(client)
    elsewhere = _login(client, "admin@acme.test", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 302  # the user's own address is not locked by someone else's guesses
    client.post("/logout")
    assert login(client, "builder@acme.test").status_code == 302  # another login from the locked address


def test_the_lock_ends_when_the_failures_are_older_than_the_window(client, world):
    for _ in range(MAX_FAILURES):
        _fail(client)
    with world.session() as s, s.begin():
        s.execute(update(LoginFailure).values(at=utcnow() - WINDOW - timedelta(seconds=1)))
    assert login(client, "admin@acme.test").status_code == 302
    assert _failures(world) == 0  # the successful log-in cleared them


def test_a_successful_login_starts_the_count_again(client):
    for _ in range(MAX_FAILURES - 1):
        _fail(client)
    assert login(client, "admin@acme.test").status_code == 302
    client.post("/logout")
    for _ in range(MAX_FAILURES - 1):
        assert _fail(client).status_code == 401


def test_failures_are_counted_in_the_database_across_app_processes(world):
    first, second = make_app(world).test_client(), make_app(world).test_client()
    for client in (first, second) * 2:
        assert _fail(client).status_code == 401
    assert _fail(second).status_code == 429
    assert login(first, "admin@acme.test").status_code == 429


def test_old_failures_are_deleted_as_new_ones_come(client, world):
    _fail(client, "someone@acme.test")
    with world.session() as s, s.begin():
        s.execute(update(LoginFailure).values(at=utcnow() - WINDOW - timedelta(minutes=1)))
    _fail(client, "another@acme.test")
    assert _failures(world) == 1


def test_forwarded_addresses_count_only_behind_a_configured_proxy(world):
    direct = make_app(world).test_client()
    for i in range(MAX_FAILURES):  # a client cannot dodge the lock by inventing X-Forwarded-For
        _fail(direct, headers={"X-Forwarded-For": f"10.0.0.{i}"})
    assert login(direct, "admin@acme.test").status_code == 429

    world.services.settings.trusted_proxies = 1
    proxied = make_app(world).test_client()
    for _ in range(MAX_FAILURES):
        _fail(proxied, "builder@acme.test", headers={"X-Forwarded-For": "203.0.113.5"})
    assert _login(proxied, "builder@acme.test", headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 429
    assert _login(proxied, "builder@acme.test", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 302


# -- cookies -------------------------------------------------------------------------------------------------

def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_the_session_cookie_is_secure_httponly_and_lax_by_default(client):
    cookie = _session_cookie(login(client, "admin@acme.test"))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie


def test_secure_cookies_can_be_switched_off_for_plain_http(world):
    world.services.settings.secure_cookies = False
    cookie = _session_cookie(login(make_app(world).test_client(), "admin@acme.test"))
    assert "Secure" not in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie


@pytest.mark.parametrize("value,expected", [(None, None), ("1", True), ("on", True), ("0", False), ("false", False)])
def test_connectors_secure_cookies_is_read_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CONNECTORS_SECURE_COOKIES", raising=False)
    else:
        monkeypatch.setenv("CONNECTORS_SECURE_COOKIES", value)
    assert Settings().secure_cookies is expected


def test_a_bad_connectors_secure_cookies_names_the_variable(monkeypatch):
    monkeypatch.setenv("CONNECTORS_SECURE_COOKIES", "maybe")
    with pytest.raises(ValueError, match="CONNECTORS_SECURE_COOKIES must be 1 or 0"):
        Settings()


def test_the_app_from_the_environment_defaults_to_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.delenv("CONNECTORS_SECURE_COOKIES", raising=False)
    services = Services.from_settings(Settings(instance_dir=tmp_path, secret_key="k"))
    try:
        assert create_app(services).config["SESSION_COOKIE_SECURE"] is True
    finally:
        services.close()


# -- headers ------------------------------------------------------------------------------------------------

def _responses(world):
    """One response of every kind: pages, errors, static files, JSON, the API, a refused log-in."""
    with world.session() as s, s.begin():
        account_job = add_job(s, world.ids["acme"], None, world.ids["config"], "ended", run_status="succeeded",
                              job_type="testapp.profiles")
    anonymous, admin, builder = (make_app(world).test_client() for _ in range(3))
    login(admin, "admin@acme.test")
    login(builder, "builder@acme.test")
    out = {"login page": anonymous.get("/login"), "redirect to login": anonymous.get("/"),
           "static js": anonymous.get("/static/app.js"), "static css": anonymous.get("/static/style.css"),
           "api 401": anonymous.post("/api/v1/status-changes", json=[]),
           "json 401": anonymous.get("/runs/1/status.json"),
           "home": admin.get("/"), "event page": admin.get("/events/EV1/connectors"),
           "new job form": admin.get("/events/EV1/connectors/new?application=testapp&job_type=testapp.import"),
           "plugins page": admin.get("/account/plugins/"),
           "404": admin.get("/events/NOPE/connectors"), "unknown url": admin.get("/nothing/here"),
           "405": admin.post("/runs/1/status.json"), "403": builder.get(f"/jobs/{account_job}"),
           "json": admin.get(f"/runs/{_run_of(world, account_job)}/status.json")}
    for _ in range(MAX_FAILURES):
        out["429"] = _fail(anonymous, "nobody@acme.test")
    return out


def _run_of(world, job_id):
    from connectors.models import JobRun
    with world.session() as s:
        return s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))


def test_every_response_carries_the_security_headers(world):
    responses = _responses(world)
    assert {k: r.status_code for k, r in responses.items()} == {
        "login page": 200, "redirect to login": 302, "static js": 200, "static css": 200, "api 401": 401,
        "json 401": 401, "home": 200, "event page": 200, "new job form": 200, "plugins page": 200, "404": 404,
        "unknown url": 404, "405": 405, "403": 403, "json": 200, "429": 429}
    for name, response in responses.items():
        headers = response.headers
        csp = dict(part.strip().split(" ", 1) for part in headers.get("Content-Security-Policy", "").split(";"))
        assert csp.get("default-src") == "'self'", name
        assert csp.get("script-src") == "'self'" and csp.get("style-src") == "'self'", name
        assert csp.get("frame-ancestors") == "'none'" and csp.get("object-src") == "'none'", name
        assert csp.get("form-action") == "'self'" and csp.get("base-uri") == "'self'", name
        assert "unsafe" not in headers["Content-Security-Policy"], name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("X-Frame-Options") == "DENY", name
        assert headers.get("Referrer-Policy") == "same-origin", name
        assert "Strict-Transport-Security" not in headers, name  # plain http: no HSTS
        if not name.startswith("static"):
            assert headers.get("Cache-Control") == "no-store", name


def test_https_responses_ask_for_strict_transport_security(client):
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_templates_have_no_inline_script_style_or_handler():
    """The policy allows scripts and styles from /static only: inline ones would be blocked."""
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text()
        for pattern, what in ((r"<script(?![^>]*\bsrc=)[^>]*>", "inline <script>"), (r"<style\b", "<style> block"),
                              (r"\sstyle\s*=", "style attribute"), (r"\son[a-z]+\s*=", "event handler attribute"),
                              (r"javascript:", "javascript: URL")):
            if re.search(pattern, html, re.IGNORECASE):
                problems.append(f"{path.relative_to(TEMPLATES)}: {what}")
    assert not problems


def test_rendered_pages_have_no_inline_script_or_style(world):
    for name, response in _responses(world).items():
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html, name
            assert not re.search(r"\son[a-z]+=", html), name
