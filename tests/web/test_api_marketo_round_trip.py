"""The API end to end: a Marketo import submitted with a user token, run by a real worker on the
bus (memory:// and RabbitMQ) against the Marketo sandbox, then its run and problems read back;
and Test connection asked through the API and answered by that worker."""
from __future__ import annotations

import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from connectors.config import Settings
from connectors.db import transaction
from connectors.models import PluginConfig
from connectors.seed import get_or_create_account, get_or_create_user
from connectors.services import Services
from connectors.testing import ACCOUNT_CODE, EVENT_CODE
from connectors.tokens import create_user_token
from connectors.web import create_app
from connectors_marketo.sandbox import INVITEES_LIST

from ..bus.conftest import delete_namespace
from ..bus.support import bus_running, wait_for
from ..marketo_support import marketo, sandbox  # noqa: F401 - the fixtures

KEY = "marketo.import_leads_as_registrations"


@pytest.fixture(params=["memory", "amqp"])
def bus(request):
    url = "memory://" if request.param == "memory" else request.getfixturevalue("rabbitmq_url")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    yield url, namespace
    delete_namespace(url, namespace)


@pytest.fixture
def api(marketo, tmp_path):
    """A test client and an administrator's API token on the harness's database."""
    with transaction(marketo.factory) as s:
        user = get_or_create_user(s, get_or_create_account(s, ACCOUNT_CODE, "Test account"), "ada@test.example",
                                  "Ada", "administrator", "pw")
        token = create_user_token(s, user, "round trip")[1]
    services = Services(settings=Settings(instance_dir=tmp_path, secret_key="web-key"), engine=marketo.engine,
                        factory=marketo.factory, read_factory=marketo.read_factory, registry=marketo.registry,
                        box=marketo.box)
    client = create_app(services, {"TESTING": True}).test_client()  # CSRF on: the API does not need it
    headers = {"Authorization": f"Bearer {token}"}
    return lambda method, url, **kw: client.open(url, method=method, headers=headers, **kw)


def expected_problems(sandbox) -> tuple[int, Counter]:
    members = [sandbox.get_lead(i) for i in sandbox.list_members(sandbox.find_list(INVITEES_LIST)["id"])]
    seen, codes = set(), Counter()
    for lead in members:
        email = (lead.get("email") or "").lower()
        if not email:
            codes["missing_required"] += 1
        elif email in seen:
            codes["duplicate"] += 1
        seen.add(email)
    return len(members) - sum(codes.values()), codes


def test_submit_an_import_through_the_api_and_read_its_records(api, marketo, sandbox, bus):
    importable, codes = expected_problems(sandbox)
    submitted = api("POST", "/api/v1/jobs", json={"job_type": KEY, "event": EVENT_CODE,
                                                  "params": {"static_list_name": INVITEES_LIST}})
    assert submitted.status_code == 201, submitted.get_json()
    run_id = submitted.get_json()["run"]["id"]
    with bus_running(marketo, *bus):
        run = wait_for(lambda: (lambda r: r if r["status"] not in ("queued", "running") else None)(
            api("GET", f"/api/v1/runs/{run_id}").get_json()), timeout=60, what="the import run")
    assert run["status"] == "succeeded", run["error"]
    assert run["counters"] == {"created": importable, "skipped": sum(codes.values())}
    assert run["progress"]["done"] == 520  # the list size is not known ahead: no total, no percent
    assert run["problems"] == sum(codes.values())
    records, page = [], 1
    while True:
        body = api("GET", f"/api/v1/runs/{run_id}/records?per_page=200&page={page}").get_json()
        records += body["records"]
        if len(records) >= body["page"]["total"]:
            break
        page += 1
    assert Counter(r["code"] for r in records) == codes
    assert {r["outcome"] for r in records} == {"skipped"}
    duplicates = api("GET", f"/api/v1/runs/{run_id}/records?code=duplicate").get_json()
    assert duplicates["page"]["total"] == codes["duplicate"]
    job = api("GET", f"/api/v1/jobs/{submitted.get_json()['job']['id']}").get_json()
    assert job["state"] == "ended" and job["last_run"]["id"] == run_id


def test_test_connection_through_the_api_is_answered_by_a_worker(api, marketo, bus):
    with marketo.factory() as s:
        config_id = s.scalar(select(PluginConfig.id).where(PluginConfig.application == "marketo"))
    asked = api("POST", f"/api/v1/plugin-configs/{config_id}/test")
    assert asked.status_code == 202
    with bus_running(marketo, *bus):
        tasks = wait_for(lambda: (lambda t: t if t["check"] and not t["check"]["active"] else None)(
            api("GET", f"/api/v1/plugin-configs/{config_id}/tasks").get_json()), what="the connection test")
    assert tasks["check"]["status"] == "succeeded" and tasks["last_test"]["passed"] is True
    assert tasks["last_test"]["message"].startswith("Connected to Marketo;")
    config = api("GET", f"/api/v1/plugin-configs/{config_id}").get_data(as_text=True)
    assert "marketo-sandbox-secret" not in config and '"client_secret": "set"' in config.replace('":"', '": "')
