"""/api/v1 plugin configurations: administrators only, secrets never returned and write-only,
Test connection as a task, mappings replaced whole through the page's validation."""
from __future__ import annotations

from sqlalchemy import select

from connectors import plugin_tasks
from connectors.models import AuditEntry, PluginConfig, PluginTask
from connectors.plugin_configs import stored_secrets

from .api_helpers import api, errors_of  # noqa: F401  (fixture)


def _url(world, tail: str = "", config: str = "config") -> str:
    return f"/api/v1/plugin-configs/{world.ids[config]}{tail}"


def test_roles_and_accounts(api, world):
    for method, tail in [("GET", ""), ("PUT", "/connection"), ("POST", "/test"), ("GET", "/tasks"),
                         ("GET", "/mappings"), ("PUT", "/mappings"), ("GET", "/status-mappings"),
                         ("PUT", "/status-mappings")]:
        assert api.call(method, _url(world, tail), "builder", json={}).status_code == 403, tail
        assert api.call(method, _url(world, tail), "other", json={}).status_code == 404, tail
        assert api.call(method, _url(world, tail), None, json={}).status_code == 401, tail
        assert api.call(method, _url(world, tail), "bad", json={}).status_code == 401, tail
    assert api.call("GET", "/api/v1/plugin-configs", "builder").status_code == 403
    listed = api.call("GET", "/api/v1/plugin-configs").get_json()["plugin_configs"]
    assert [c["id"] for c in listed] == [world.ids["config"]]


def test_secrets_are_never_returned(api, world):
    body = api.call("GET", _url(world)).get_json()
    assert body["connection"] == {"base_url": "http://x"} and body["secrets"] == {"api_key": "set"}
    assert '"k"' not in api.call("GET", _url(world)).get_data(as_text=True)


def test_update_connection_keeps_a_secret_left_out_and_names_bad_fields(api, world):
    resp = api.call("PUT", _url(world, "/connection"), json={"connection": {"base_url": "http://new"}, "name": "Renamed"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["connection"] == {"base_url": "http://new"} and "api_key" not in resp.get_json()["connection"]
    with world.session() as s:
        config = s.get(PluginConfig, world.ids["config"])
        assert stored_secrets(config, world.services.box) == {"api_key": "k"} and config.name == "Renamed"
    resp = api.call("PUT", _url(world, "/connection"), json={"connection": {"base_url": "http://new", "api_key": "k2"}})
    with world.session() as s:
        assert stored_secrets(s.get(PluginConfig, world.ids["config"]), world.services.box) == {"api_key": "k2"}
        audit = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert audit and "k2" not in str([(a.before, a.after) for a in audit])
    bad = api.call("PUT", _url(world, "/connection"), json={"connection": {"base_url": None}})
    assert bad.status_code == 422 and "connection.base_url" in errors_of(bad)
    assert "connections" in errors_of(api.call("PUT", _url(world, "/connection"), json={"connections": {}}))


def test_test_connection_is_a_task_with_its_result(api, world):
    resp = api.call("POST", _url(world, "/test"))
    assert resp.status_code == 202 and resp.get_json()["kind"] == "check" and resp.get_json()["active"] is True
    tasks = api.call("GET", _url(world, "/tasks")).get_json()
    assert tasks["check"]["id"] == resp.get_json()["id"] and tasks["describe_fields"] is None
    with world.session() as s:
        assert s.get(PluginTask, resp.get_json()["id"]).status == "queued"
    task_id = resp.get_json()["id"]  # a worker answers it: the core's claim and execute, as bus/worker calls them
    assert plugin_tasks.claim(world.services.factory, task_id, "test-worker")
    plugin_tasks.execute(world.services.factory, world.services.registry, world.services.box, task_id)
    tasks = api.call("GET", _url(world, "/tasks")).get_json()
    assert tasks["check"]["status"] == "failed" and tasks["check"]["active"] is False
    assert tasks["last_test"]["passed"] is False and "offers no connection check" in tasks["last_test"]["message"]
    assert api.call("GET", _url(world)).get_json()["last_test"]["passed"] is False


def test_field_mappings_replaced_and_validated(api, world):
    rows = [{"direction": "inbound", "certain_field": "profile.email", "remote_field": "Email", "is_match_key": True,
             "required": True}]
    resp = api.call("PUT", _url(world, "/mappings"), json={"mappings": rows})
    assert resp.status_code == 200, resp.get_json()
    assert api.call("GET", _url(world, "/mappings")).get_json()["mappings"][0]["remote_field"] == "Email"
    bad = api.call("PUT", _url(world, "/mappings"), json={"mappings": [{**rows[0], "certain_field": "shoe_size"}]})
    assert bad.status_code == 422 and any(k.startswith("mappings.0") for k in errors_of(bad))
    assert api.call("GET", _url(world, "/mappings")).get_json()["mappings"][0]["certain_field"] == "profile.email"
    assert errors_of(api.call("PUT", _url(world, "/mappings"), json={"mappings": [{"direction": "in"}]}))


def test_status_mappings_replaced_and_validated(api, world):
    rows = [{"direction": "outbound", "certain_status": "Attended", "remote_status": "Attended"}]
    resp = api.call("PUT", _url(world, "/status-mappings"), json={"status_mappings": rows})
    assert resp.status_code == 200, resp.get_json()
    assert api.call("GET", _url(world, "/status-mappings")).get_json()["status_mappings"] == [{**rows[0], "event_id": None}]
    bad = api.call("PUT", _url(world, "/status-mappings"),
                   json={"status_mappings": [{**rows[0], "certain_status": "Asleep"}]})
    assert bad.status_code == 422 and any(k.startswith("status_mappings.0") for k in errors_of(bad))
