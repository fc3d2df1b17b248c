"""Hostile input on the admin and the JSON API: every bad id, number and body gets a 4xx in the
address's own format (JSON ``{"errors": {field: [reasons]}}`` on the API, the styled error page on
the admin), never a 500. Ids past the databases' integers are tried on SQLite and PostgreSQL:
PostgreSQL refuses a number past 2**31 - 1, SQLite one past 2**63 - 1.
"""
from __future__ import annotations

import json

import pytest

from sqlalchemy import select, text

from connectors.db import transaction
from connectors.models import JobRun

from .api_helpers import api, errors_of, make_tokens  # noqa: F401  (api: a fixture)
from .conftest import add_job, login, make_app
from .db_worlds import any_world  # noqa: F401  (a fixture)

HUGE_IDS = (2**31, 2**63, 2**70)
#: a value for each non-id argument of a rule
ARGUMENTS = {"event_code": "EV1", "kind": "sessions", "subject_code": "S1", "application": "testapp"}


@pytest.fixture
def clients(any_world):
    """An API client with the administrator's token, and an admin client signed in as him."""
    app = make_app(any_world)
    tokens = make_tokens(any_world)
    admin = app.test_client()
    assert login(admin, "admin@acme.test").status_code == 302
    return app, {"Authorization": f"Bearer {tokens['admin']}"}, admin


def _id_routes(app):
    """(method, rule) for every rule with an ``<int:...>`` argument."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if any(type(c).__name__ == "IdConverter" for c in rule._converters.values()):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield method, rule


def _url(rule, number: int) -> str:
    """The rule's path with ``number`` for every id (built by hand: ``url_for`` would refuse it)."""
    path = rule.rule
    for name, converter in rule._converters.items():
        value = str(number) if type(converter).__name__ == "IdConverter" else ARGUMENTS[name]
        path = path.replace(f"<{name}>", value)
        for token in (f"<int:{name}>", f"<any(sessions, 'agenda-items'):{name}>"):
            path = path.replace(token, value)
    assert "<" not in path, path
    return path


def test_every_route_answers_an_id_past_the_databases_integers_with_404(clients):
    app, token, admin = clients
    routes = list(_id_routes(app))
    assert len(routes) >= 48
    api = app.test_client()
    for method, rule in routes:
        for number in HUGE_IDS:
            url = _url(rule, number)
            if url.startswith("/api/v1/"):
                response = api.open(url, method=method, headers=token, json={})
                assert response.status_code == 404, (method, url, response.data[:200])
                assert "resource" in errors_of(response), (method, url)
            else:
                response = admin.open(url, method=method, data={})
                assert response.status_code == 404, (method, url, response.data[:200])
                if url.endswith(".json"):  # the admin's polling addresses answer JSON
                    assert "resource" in errors_of(response), (method, url)
                else:
                    assert "text/html" in response.content_type and "Not found" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["page=4294967296", "page=99999999999999999999999", "per_page=2147483648",
                                   "job_id=2147483648", "job_id=99999999999999999999999", "page=-1", "page=x"])
def test_api_query_numbers_out_of_range_are_400(clients, query):
    app, token, _ = clients
    response = app.test_client().get(f"/api/v1/runs?{query}", headers=token)
    assert response.status_code in (400, 404), response.data[:300]
    assert errors_of(response)


@pytest.mark.parametrize("query", ["page=99999999999999999999999", "page=2147483648", "page=-5"])
def test_api_page_past_the_end_is_refused_or_clamped(clients, query):
    app, token, _ = clients
    client = app.test_client()
    for url in ("/api/v1/jobs", "/api/v1/events/EV1/registrations"):
        response = client.get(f"{url}?{query}", headers=token)
        assert response.status_code in (200, 400), (url, response.data[:300])
        if response.status_code == 400:
            assert "page" in errors_of(response)


@pytest.mark.parametrize("query", ["page=99999999999999999999999", "run=99999999999999999999999",
                                   "page=2147483648", "run=2147483648"])
def test_admin_query_numbers_out_of_range_do_not_fail(clients, any_world, query):
    _, _, admin = clients
    with transaction(any_world.services.factory) as s:
        job_id = add_job(s, any_world.ids["acme"], any_world.ids["ev1"], any_world.ids["config"], "ended",
                         run_status="failed")
        run_id = s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))
    for url in (f"/jobs/{job_id}?{query}", f"/events/EV1/registrations?{query}", f"/events/EV1/connectors?{query}",
                f"/runs/{run_id}/problems?{query}", f"/account/connectors?{query}"):
        response = admin.get(url)
        assert response.status_code in (200, 400, 404), (url, response.status_code)
    for field in ("only", "record_id"):
        response = admin.post(f"/runs/{run_id}/problems/dismiss", data={field: query.split("=")[1]})
        assert response.status_code == 302, (field, response.status_code)


@pytest.mark.parametrize("text", ["nul\x00byte", "\x00"])
def test_nul_bytes_in_api_bodies_and_queries_are_4xx(clients, text):
    app, token, _ = clients
    client = app.test_client()
    answers = [
        client.get("/api/v1/jobs", query_string={"event": text}, headers=token),
        client.get("/api/v1/jobs", query_string={"application": text}, headers=token),
        client.get("/api/v1/runs", query_string={"event": text}, headers=token),
        client.get("/api/v1/events/EV1/registrations", query_string={"q": text}, headers=token),
        client.get("/api/v1/events/EV1/registrations", query_string={"status": text}, headers=token),
        client.post("/api/v1/jobs", json={"job_type": text, "event": "EV1"}, headers=token),
        client.post("/api/v1/jobs", json={"job_type": "testapp.import", "event": text}, headers=token),
        client.post("/api/v1/jobs/clear", json={"event": text}, headers=token),
        client.post("/api/v1/events/EV1/registrations/1/status", json={"status": text}, headers=token),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, (response.request.url, response.data[:300])
        assert errors_of(response)


@pytest.mark.parametrize("body,content_type", [
    ("not json at all", "application/json"),
    ('{"job_type": ', "application/json"),
    ("[1, 2, 3]", "application/json"),
    ('"a string"', "application/json"),
    ("job_type=x", "application/x-www-form-urlencoded"),
    ("[" * 100_000 + "]" * 100_000, "application/json"),
    ('{"a":' * 50_000 + "1" + "}" * 50_000, "application/json"),
])
def test_unreadable_bodies_are_400(api, body, content_type):
    for method, url in (("POST", "/api/v1/jobs"), ("POST", "/api/v1/jobs/clear"),
                        ("PUT", "/api/v1/plugin-configs/1/mappings")):
        response = api.call(method, url, data=body, content_type=content_type)
        assert response.status_code in (400, 404), (url, response.data[:300])
        assert errors_of(response)


def test_deeply_nested_values_inside_an_object_are_refused(api, world):
    nested = json.dumps({"job_type": "testapp.import", "event": "EV1",
                         "params": {"list_name": json.loads("[" * 40 + "]" * 40)}})
    response = api.call("POST", "/api/v1/jobs", data=nested, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert errors_of(response)


def test_strings_a_database_cannot_store_are_named_in_a_422(api):
    body = '{"job_type": "testapp.import", "event": "EV1", "params": {"list_name": "a\\ud800b", "x\\u0000": 1}}'
    response = api.call("POST", "/api/v1/jobs", data=body, content_type="application/json")
    assert response.status_code == 422
    assert set(errors_of(response)) == {"params.list_name", "params.x\x00"}
    wide = json.dumps({"job_type": "x", "params": {"k": [json.loads("[" * 34 + "]" * 34)] * 5000}})
    response = api.call("POST", "/api/v1/jobs", data=wide, content_type="application/json")
    assert response.status_code == 422 and len(errors_of(response)) <= 20


def test_401_has_the_documented_error_body(api):
    for url in ("/api/v1/jobs", "/api/v1/openapi.json", "/api/v1/nowhere"):
        for who in (None, "bad"):
            response = api.call("GET", url, who=who)
            assert response.status_code == 401
            assert "authorization" in errors_of(response), (url, who)
    response = api.client.get("/api/v1/docs", headers={"Accept": "application/json"})
    assert response.status_code == 401 and "authorization" in errors_of(response)


def test_405_names_the_allowed_methods_on_the_api(api):
    response = api.call("DELETE", "/api/v1/runs")
    assert response.status_code == 405
    assert "method" in errors_of(response)
    assert set(response.headers["Allow"].split(", ")) >= {"GET"}
    response = api.call("PUT", "/api/v1/jobs/1")
    assert response.status_code == 405
    assert {"GET", "PATCH", "DELETE"} <= set(response.headers["Allow"].split(", "))


def test_405_names_the_allowed_methods_on_the_admin(admin):
    response = admin.delete("/account/plugins/")
    assert response.status_code == 405 and "text/html" in response.content_type
    assert "GET" in response.headers["Allow"]
    response = admin.get("/logout")
    assert response.status_code == 405 and response.headers["Allow"].split(", ").count("POST") == 1


def test_a_server_error_is_the_last_resort_and_keeps_each_side_s_format(world):
    """A database that lost a table (a real failure, not a stub): the API still answers JSON,
    the admin its styled page, and neither shows the exception."""
    app = make_app(world, TESTING=False)  # errors are handled, not raised into the test
    token = {"Authorization": f"Bearer {make_tokens(world)['admin']}"}
    admin = app.test_client()
    assert login(admin, "admin@acme.test").status_code == 302
    with world.services.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {JobRun.__tablename__}"))
    response = app.test_client().get("/api/v1/runs", headers=token)
    assert response.status_code == 500
    assert list(errors_of(response)) == ["server"] and "job_runs" not in response.get_data(as_text=True)
    response = admin.get("/runs/1/problems")
    assert response.status_code == 500 and "text/html" in response.content_type
    assert "Server error" in response.get_data(as_text=True)


def test_nul_bytes_on_the_admin_are_400_or_404_in_its_page(clients):
    _, _, admin = clients
    answers = {
        "/events/EV1/registrations?q=a%00b": 400,
        "/events/EV1/connectors?application=%00": 400,
        "/events/EV%001/registrations": 404,
        "/account/plugins/new/test%00app": 404,
    }
    for url, status in answers.items():
        response = admin.get(url)
        assert response.status_code == status, (url, response.status_code)
        assert "text/html" in response.content_type
    response = admin.post("/account/connectors/new", data={"name": "nul\x00name", "job_type": "testapp.profiles"})
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
