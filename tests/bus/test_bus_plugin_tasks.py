""""Test connection" and field discovery through the bus: the outbox row a page writes is
relayed, a real worker claims the task and calls the Marketo plugin against its sandbox, and
the outcome lands on the task and the configuration — on memory:// and on RabbitMQ."""
from __future__ import annotations

from sqlalchemy import select

from connectors import plugin_tasks
from connectors.db import transaction
from connectors.models import PluginConfig, PluginTask

from ..marketo_support import marketo, sandbox  # noqa: F401 - the fixtures
from .support import bus_running, wait_for
from .test_bus_worker import publish_raw


def config_id(harness) -> int:
    with harness.factory() as s:
        return s.scalar(select(PluginConfig.id).where(PluginConfig.application == "marketo"))


def ask(harness, kind: str) -> int:
    with transaction(harness.factory) as s:
        return plugin_tasks.request(s, s.get(PluginConfig, config_id(harness)), kind, None).id


def ended(harness, task_id: int) -> PluginTask | None:
    with harness.read_factory() as s:
        task = s.get(PluginTask, task_id)
        return task if task.status in ("succeeded", "failed") else None


def test_a_worker_tests_the_connection_and_reads_the_fields(marketo, sandbox, broker_url, namespace):
    check_id, fields_id = ask(marketo, "check"), ask(marketo, "describe_fields")
    with bus_running(marketo, broker_url, namespace) as worker:
        check = wait_for(lambda: ended(marketo, check_id), what="the connection test")
        described = wait_for(lambda: ended(marketo, fields_id), what="the field discovery")
    assert (check.status, check.ok, check.worker) == ("succeeded", True, worker.name)
    assert check.message.startswith("Connected to Marketo;") and "lead fields available" in check.message
    with marketo.read_factory() as s:
        config = s.get(PluginConfig, config_id(marketo))
        assert config.last_test_result == "OK: " + check.message and config.last_tested_at == check.ended_at
        found, _ = plugin_tasks.discovered_fields(s, config.id)
    assert described.ok and {"email", "firstName", "lastName"} <= set(found)
    assert len(found) == int(check.message.split("; ")[1].split()[0])  # the check counted the same fields
    paths = {entry.path for entry in sandbox.journal}
    assert {"/identity/oauth/token", "/rest/v1/leads/describe.json"} <= paths, paths


def test_a_refused_secret_is_reported_without_the_secret(marketo, sandbox, broker_url, namespace):
    with transaction(marketo.factory) as s:
        config = s.get(PluginConfig, config_id(marketo))
        config.secrets = marketo.box.seal({"client_secret": "wrong-secret-value"})
    task_id = ask(marketo, "check")
    with bus_running(marketo, broker_url, namespace):
        task = wait_for(lambda: ended(marketo, task_id), what="the connection test")
    assert task.status == "failed" and not task.ok and task.message.startswith("Marketo refused")
    assert "wrong-secret-value" not in task.message
    with marketo.read_factory() as s:
        assert s.get(PluginConfig, config_id(marketo)).last_test_result.startswith("Failed: Marketo refused")


def test_a_duplicate_command_runs_the_task_once_and_a_malformed_one_is_rejected(marketo, broker_url, namespace):
    task_id = ask(marketo, "check")
    with bus_running(marketo, broker_url, namespace) as worker:
        wait_for(lambda: ended(marketo, task_id), what="the connection test")
        body = {"id": plugin_tasks.message_id(task_id), "type": plugin_tasks.PLUGIN_TASK_REQUESTED, "version": 1,
                "payload": {"task_id": task_id}}
        publish_raw(broker_url, worker.topology, body, serializer="json")
        publish_raw(broker_url, worker.topology, {**body, "payload": {"task_id": "x"}}, serializer="json")
        second = ask(marketo, "check")  # the next request after the duplicates still gets answered
        wait_for(lambda: ended(marketo, second), what="the next connection test")
    with marketo.read_factory() as s:
        first = s.get(PluginTask, task_id)
        assert first.status == "succeeded" and first.ended_at < s.get(PluginTask, second).started_at


def test_the_page_asks_a_worker_and_shows_the_answer(marketo, tmp_path, broker_url, namespace):
    """The admin's button, a real worker on the bus, the Marketo sandbox, and the page's answer."""
    from connectors.config import Settings
    from connectors.seed import get_or_create_account, get_or_create_user
    from connectors.services import Services
    from connectors.web import create_app

    with transaction(marketo.factory) as s:
        get_or_create_user(s, get_or_create_account(s, "TEST", "Test account"), "ada@test.example", "Ada",
                           "administrator", "pw")
    services = Services(settings=Settings(instance_dir=tmp_path, secret_key="web-key"), engine=marketo.engine,
                        factory=marketo.factory, read_factory=marketo.read_factory, registry=marketo.registry,
                        box=marketo.box)
    client = create_app(services, {"TESTING": True, "WTF_CSRF_ENABLED": False}).test_client()
    assert client.post("/login", data={"login": "ada@test.example", "password": "pw"}).status_code == 302
    page = f"/account/plugins/{config_id(marketo)}"
    assert client.post(page + "/test").status_code == 302
    assert client.get(page + "/tasks.json").get_json()["active"]
    with bus_running(marketo, broker_url, namespace):
        state = wait_for(lambda: (lambda s: None if s["active"] else s)(client.get(page + "/tasks.json").get_json()),
                         what="the answer on tasks.json")
    assert state["check"]["status"] == "succeeded" and state["last_test_result"].startswith("OK: Connected to Marketo;")
    html = client.get(page).get_data(as_text=True)
    assert "Connected to Marketo;" in html and "lead fields available" in html and "marketo-sandbox-secret" not in html
