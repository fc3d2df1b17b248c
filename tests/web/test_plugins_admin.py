"""Account Settings › Third-Party Plugins: roles on every route, secrets never rendered back,
validation naming fields, mappings, audit rows, the test-connection task and CSRF."""
from __future__ import annotations

import pytest
from marshmallow import Schema, fields
from sqlalchemy import select

from connectors import Application, CheckResult, RemoteField, hookimpl, plugin_tasks
from connectors.db import transaction
from connectors.models import AuditEntry, FieldMapping, Outbox, PluginConfig, PluginTask, StatusMapping, User
from connectors.plugin_configs import save_connection

from .conftest import csrf_token, login, make_app

SECRET = "Sup3r-Secret-Value-7731"
NEW_SECRET = "Another-Secret-4242"


class CrmConnection(Schema):
    base_url = fields.String(required=True, metadata={"label": "Base URL", "order": 1})
    token = fields.String(required=True, metadata={"label": "Token", "secret": True, "order": 2})
    calls_per_window = fields.Integer(load_default=20, metadata={"label": "Calls per window", "order": 3})


def crm_check(connection):
    ok = connection["token"] == SECRET
    return CheckResult(ok, "Connected to the CRM" if ok else f"Token {connection['token']} refused")


def crm_fields(connection):
    return [RemoteField("email", "E-mail"), RemoteField("first", "First name"), RemoteField("id", "Id", read_only=True)]


class CrmPlugin:
    @hookimpl
    def register_applications(self, register):
        register(Application(name="crm", label="Acme CRM", connection_schema=CrmConnection, check=crm_check,
                             describe_fields=crm_fields, description="A CRM for tests."))


@pytest.fixture
def crm(world):
    """The CRM plugin installed, and ACME's configuration of it (secret ``SECRET``)."""
    assert world.services.registry.add("crm", CrmPlugin())
    with transaction(world.services.factory) as s:
        config = save_connection(s, world.services.registry, world.services.box, account_id=world.ids["acme"],
                                 user=None, application="crm", submitted={"base_url": "http://crm.test", "token": SECRET})
        return config.id


def routes(config_id):
    """(method, path, form) of every route of the page, for one configuration."""
    base = f"/account/plugins/{config_id}"
    return [("get", "/account/plugins/", None), ("get", "/account/plugins/new/testapp", None),
            ("get", base, None), ("get", base + "/tasks.json", None),
            ("post", base + "/connection", {"name": "X", "p_base_url": "http://crm2.test"}),
            ("post", base + "/enabled", {"enabled": "0"}), ("post", base + "/test", {}),
            ("post", base + "/discover", {}), ("post", base + "/mappings", {}),
            ("post", base + "/status-mappings", {})]


def call(client, method, path, form):
    return client.get(path) if method == "get" else client.post(path, data=form)


def test_administrators_reach_every_route(admin, crm):
    for method, path, form in routes(crm):
        assert call(admin, method, path, form).status_code in (200, 302), path


def test_event_builders_get_403_everywhere(builder, crm):
    for method, path, form in routes(crm):
        assert call(builder, method, path, form).status_code == 403, path
    assert "Third-Party Plugins" not in builder.get("/").get_data(as_text=True)


def test_another_accounts_configuration_is_404(client, world, crm):
    assert login(client, "admin@other.test").status_code == 302
    for method, path, form in routes(crm)[2:]:
        assert call(client, method, path, form).status_code == 404, path
    html = client.get("/account/plugins/").get_data(as_text=True)
    assert f"/account/plugins/{world.ids['other_config']}" in html and f"/account/plugins/{crm}\"" not in html


def test_logged_out_visitors_are_sent_to_log_in(client, crm):
    response = client.get("/account/plugins/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get(f"/account/plugins/{crm}/tasks.json").status_code == 401


def test_list_shows_applications_versions_configurations_and_load_errors(admin, world, crm):
    class Broken:
        @hookimpl
        def register_applications(self, register):
            raise RuntimeError("boom in register")
    world.services.registry.add("brokenplugin", Broken())
    html = admin.get("/account/plugins/").get_data(as_text=True)
    assert "Acme CRM" in html and "Test App" in html and "A CRM for tests." in html
    assert f"/account/plugins/{crm}" in html and "never" in html
    assert "brokenplugin" in html and "boom in register" in html


def all_bodies(admin, crm):
    """Every page and JSON answer the configuration has."""
    return [admin.get(path).get_data(as_text=True) for path in (
        "/account/plugins/", f"/account/plugins/{crm}", f"/account/plugins/{crm}/tasks.json")]


def stored_secret(world, config_id):
    with world.session() as s:
        return world.services.box.open(s.get(PluginConfig, config_id).secrets)["token"]


def test_secrets_are_write_only(admin, world, crm):
    html = admin.get(f"/account/plugins/{crm}").get_data(as_text=True)
    assert 'name="p_token" type="password" value=""' in html
    assert 'data-secret-state="token">Currently: <span class="badge badge-ok">set</span>' in html
    # a failed save re-renders the form: the secret typed is not echoed back either
    response = admin.post(f"/account/plugins/{crm}/connection",
                          data={"name": "CRM", "p_base_url": "", "p_token": NEW_SECRET, "p_calls_per_window": "x"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert NEW_SECRET not in body and SECRET not in body
    assert "Not a valid integer." in body.split('id="p_calls_per_window-errors"')[1][:200]
    assert "Missing data for required field." in body.split('id="p_base_url-errors"')[1][:200]
    assert stored_secret(world, crm) == SECRET  # nothing saved
    # a blank secret keeps the stored one
    response = admin.post(f"/account/plugins/{crm}/connection",
                          data={"name": "CRM", "enabled": "y", "p_base_url": "http://crm2.test", "p_token": ""})
    assert response.status_code == 302
    assert stored_secret(world, crm) == SECRET
    with world.session() as s:
        assert s.get(PluginConfig, crm).connection == {"base_url": "http://crm2.test", "calls_per_window": 20}
    # a typed one replaces it
    admin.post(f"/account/plugins/{crm}/connection",
               data={"name": "CRM", "enabled": "y", "p_base_url": "http://crm2.test", "p_token": NEW_SECRET})
    assert stored_secret(world, crm) == NEW_SECRET
    for body in all_bodies(admin, crm):
        assert SECRET not in body and NEW_SECRET not in body


def test_connection_changes_are_audited_and_shown(admin, world, crm):
    admin.post(f"/account/plugins/{crm}/connection",
               data={"name": "CRM", "enabled": "y", "p_base_url": "http://crm2.test", "p_token": NEW_SECRET})
    with world.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "connection.update")).one()
        assert entry.actor == "admin@acme.test" and entry.user_id == world.ids["admin"]
        assert entry.before["connection"]["base_url"] == "http://crm.test"
        assert entry.after["secrets"] == {"token": "changed"}
    html = admin.get(f"/account/plugins/{crm}").get_data(as_text=True)
    history = html.split('id="history"')[1]
    assert "Ada Admin" in history and "connection: update" in history
    assert "connection.base_url: http://crm.test → http://crm2.test" in history
    assert "secrets.token: set → changed" in history and NEW_SECRET not in html


def mapping_form(*rows):
    form = {}
    for i, row in enumerate(rows):
        for key, value in row.items():
            form[f"m-{i}-{key}"] = value
    return form


def test_mappings_are_saved_in_order_with_their_options(admin, world, crm):
    form = mapping_form(
        {"direction": "outbound", "certain_field": "profile.first_name", "remote_field": "first", "transform": "trim",
         "update_policy": "only_if_blank"},
        {"direction": "outbound", "certain_field": "profile.email", "remote_field": "email", "is_match_key": "1",
         "required": "1"},
        {"direction": "inbound", "certain_field": "profile.email", "remote_field": "gone", "delete": "1"},
        {"direction": "inbound", "certain_field": "", "remote_field": ""})  # the blank row for adding
    assert admin.post(f"/account/plugins/{crm}/mappings", data=form).status_code == 302
    with world.session() as s:
        rows = [(m.position, m.direction, m.certain_field, m.remote_field, m.transform, m.update_policy, m.is_match_key,
                 m.required) for m in s.scalars(select(FieldMapping).where(FieldMapping.plugin_config_id == crm)
                                                .order_by(FieldMapping.position))]
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "mappings.update")) == "mappings.update"
    assert rows == [(0, "outbound", "profile.first_name", "first", "trim", "only_if_blank", False, False),
                    (1, "outbound", "profile.email", "email", "none", "overwrite", True, True)]
    html = admin.get(f"/account/plugins/{crm}").get_data(as_text=True)
    assert 'name="m-1-remote_field" value="email"' in html and 'name="m-2-remote_field" value=""' in html


def test_mapping_validation_errors_name_the_row_and_field(admin, world, crm):
    with transaction(world.services.factory) as s:  # the remote fields, as a worker would have read them
        task = plugin_tasks.request(s, s.get(PluginConfig, crm), "describe_fields", None)
    assert plugin_tasks.claim(world.services.factory, task.id, "test-worker")
    plugin_tasks.execute(world.services.factory, world.services.registry, world.services.box, task.id)
    form = mapping_form(
        {"direction": "outbound", "certain_field": "profile.first_name", "remote_field": "frist"},
        {"direction": "outbound", "certain_field": "profile.last_name", "remote_field": "id", "is_match_key": "1"},
        {"direction": "inbound", "certain_field": "profile.email", "remote_field": "email", "is_match_key": "1"},
        {"direction": "inbound", "certain_field": "profile.phone", "remote_field": "first", "is_match_key": "1"})
    response = admin.post(f"/account/plugins/{crm}/mappings", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Mappings not saved." in html
    assert "The outbound mappings need one for profile.email" in html
    assert "Acme CRM has no field &#39;frist&#39;." in html
    assert "id is read-only in Acme CRM: it cannot be sent." in html
    assert "Only one match key per direction: row 3 is already the inbound match key." in html
    assert 'name="m-0-remote_field" value="frist" maxlength="200"' in html  # what was typed stays
    assert "3 remote fields known" in html and '<option value="first">First name</option>' in html
    with world.session() as s:
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "mappings.update")) is None


def test_status_mappings(admin, world, crm):
    form = {"s-0-direction": "outbound", "s-0-certain_status": "Attended", "s-0-remote_status": "Attended",
            "s-0-event_id": "", "s-1-direction": "outbound", "s-1-certain_status": "Attended",
            "s-1-remote_status": "Visited", "s-1-event_id": str(world.ids["ev1"])}
    assert admin.post(f"/account/plugins/{crm}/status-mappings", data=form).status_code == 302
    with world.session() as s:
        assert [(m.certain_status, m.remote_status, m.event_id) for m in s.scalars(select(StatusMapping).order_by(
            StatusMapping.position))] == [("Attended", "Attended", None), ("Attended", "Visited", world.ids["ev1"])]
    form["s-1-event_id"] = str(world.ids["ev_other"])  # another account's event
    form["s-2-direction"], form["s-2-certain_status"], form["s-2-remote_status"] = "outbound", "Attended", "Again"
    response = admin.post(f"/account/plugins/{crm}/status-mappings", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Not an event of this account." in html
    assert "Attended is already mapped by row 1 (outbound)." in html


def test_test_connection_runs_as_a_task_and_the_result_shows(admin, world, crm):
    assert "Not tested yet." in admin.get(f"/account/plugins/{crm}").get_data(as_text=True)
    assert admin.post(f"/account/plugins/{crm}/test").status_code == 302
    admin.post(f"/account/plugins/{crm}/test")  # a second click while pending asks nothing more
    with world.session() as s:
        tasks = list(s.scalars(select(PluginTask)))
        commands = list(s.scalars(select(Outbox).where(Outbox.type == "plugin.task.requested")))
    assert len(tasks) == 1 and [c.payload for c in commands] == [{"task_id": tasks[0].id}]
    state = admin.get(f"/account/plugins/{crm}/tasks.json").get_json()
    assert state["active"] and state["check"]["status"] == "queued"
    html = admin.get(f"/account/plugins/{crm}").get_data(as_text=True)
    assert "testing…" in html and 'data-active="true"' in html
    # a worker answers (the bus test runs this through a real worker)
    assert plugin_tasks.claim(world.services.factory, tasks[0].id, "test-worker")
    plugin_tasks.execute(world.services.factory, world.services.registry, world.services.box, tasks[0].id)
    state = admin.get(f"/account/plugins/{crm}/tasks.json").get_json()
    assert not state["active"] and state["check"]["ok"] and state["last_test_result"] == "OK: Connected to the CRM"
    html = admin.get(f"/account/plugins/{crm}").get_data(as_text=True)
    assert "Connected to the CRM" in html and 'data-active="false"' in html


def test_creating_a_configuration_with_the_proposed_mappings(admin, world):
    world.services.registry.add("crm", CrmPlugin())
    html = admin.get("/account/plugins/new/crm").get_data(as_text=True)
    assert 'name="p_token" required type="password" value=""' in html
    response = admin.post("/account/plugins/new/crm", data={"name": "My CRM", "enabled": "y", "p_base_url": "http://c"})
    assert response.status_code == 422 and "Missing data for required field." in response.get_data(as_text=True)
    response = admin.post("/account/plugins/new/crm", data={"name": "My CRM", "enabled": "y", "p_base_url": "http://c",
                                                            "p_token": SECRET})
    assert response.status_code == 302
    with world.session() as s:
        config = s.scalars(select(PluginConfig).where(PluginConfig.application == "crm")).one()
        assert config.name == "My CRM" and config.account_id == world.ids["acme"] and SECRET not in config.secrets
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "connection.create")) == "admin@acme.test"
    assert admin.get("/account/plugins/new/crm").status_code == 302  # one configuration per application
    assert admin.get("/account/plugins/new/nosuchapp").status_code == 404


def test_disable_and_enable(admin, world, crm):
    assert admin.post(f"/account/plugins/{crm}/enabled", data={"enabled": "0"}).status_code == 302
    with world.session() as s:
        assert not s.get(PluginConfig, crm).enabled
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "config.disable"


def test_csrf_is_required_on_every_form(world, crm):
    app = make_app(world, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"login": "admin@acme.test", "password": "admin-pw", "csrf_token": csrf_token(page)})
    for _, path, form in [r for r in routes(crm) if r[0] == "post"]:
        assert client.post(path, data=form).status_code == 400, path
    token = csrf_token(client.get(f"/account/plugins/{crm}").get_data(as_text=True))
    assert client.post(f"/account/plugins/{crm}/test", data={"csrf_token": token}).status_code == 302
    with world.session() as s:
        assert s.scalar(select(PluginTask.kind)) == "check"
        assert s.get(User, world.ids["admin"]).login == "admin@acme.test"


def test_a_configuration_whose_plugin_is_gone_says_how_to_bring_it_back(admin, world):
    with transaction(world.services.factory) as s:
        config = PluginConfig(account_id=world.ids["acme"], application="gone", name="Gone CRM")
        s.add(config)
        s.flush()
        config_id = config.id
    response = admin.post(f"/account/plugins/{config_id}/connection", data={"name": "X"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "409 · Conflict" in html and "The gone plugin is not installed" in html
    assert "Install its package again and restart the web and worker processes." in html
