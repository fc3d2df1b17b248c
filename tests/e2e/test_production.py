"""The production wiring of the README: `connectors db upgrade`, `relay`, `worker` and `scheduler`
as separate processes on PostgreSQL and RabbitMQ, a job submitted with the CLI, a recurring one
fired by the scheduler, and every process stopping cleanly on SIGTERM."""
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connectors.db import transaction
from connectors.models import JobRun
from connectors.services import Services
from connectors.seed import configure_plugin, get_or_create_account, get_or_create_event
from connectors_marketo.sandbox import start_sandbox

from ..bus.conftest import delete_namespace


@pytest.fixture
def production(postgres_url, rabbitmq_url, tmp_path, monkeypatch):
    namespace = f"prod{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CONNECTORS_DATABASE_URL": postgres_url, "CONNECTORS_BROKER_URL": rabbitmq_url,
           "CONNECTORS_BUS_NAMESPACE": namespace, "CONNECTORS_SECRET_KEY": "production-test-key",
           "CONNECTORS_LEASE_SECONDS": "5", "CONNECTORS_INSTANCE_DIR": str(tmp_path / "instance")}
    for key in ("CONNECTORS_DATABASE_URL", "CONNECTORS_BROKER_URL", "CONNECTORS_BUS_NAMESPACE", "CONNECTORS_SECRET_KEY"):
        monkeypatch.setenv(key, env[key])
    upgrade = subprocess.run([sys.executable, "-m", "connectors", "db", "upgrade"], env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    sandbox = start_sandbox(port=0)
    services = Services.from_settings()
    with transaction(services.factory) as s:
        account = get_or_create_account(s, "PROD", "Production test")
        get_or_create_event(s, account, "LIVE26", "Live 2026", tz="Europe/Paris")
        configure_plugin(s, services.registry, services.box, account, "marketo", sandbox.connection)
    procs = {name: subprocess.Popen([sys.executable, "-m", "connectors", name], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
             for name in ("relay", "worker", "scheduler")}
    yield {"env": env, "services": services, "procs": procs}
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
    services.close()
    sandbox.stop()
    delete_namespace(rabbitmq_url, namespace)


def cli(env, *args, timeout=90):
    return subprocess.run([sys.executable, "-m", "connectors", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_processes_run_jobs_on_postgres_and_rabbitmq(production):
    env = production["env"]
    params = json.dumps({"static_list_name": "SUMMIT26 Invitees", "page_size": 100})
    out = cli(env, "jobs", "submit", "--event", "LIVE26", "--type", "marketo.import_leads_as_registrations",
              "--params", params, "--wait", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    run = json.loads(out.stdout)
    assert (run["status"], run["counters"]["created"], run["counters"]["skipped"]) == ("succeeded", 494, 26)

    # the first fire is at start_at only if that is still ahead when the job is stored: leave room for a
    # slow CLI start on a loaded machine (it loads every plugin), else it lands a whole minute later
    start = (datetime.now(timezone.utc) + timedelta(seconds=15)).isoformat()
    schedule = json.dumps({"mode": "recurring", "frequency": "minutes", "interval": 1, "start_at": start,
                           "end_at": "2099-01-01T00:00:00Z"})
    out = cli(env, "jobs", "submit", "--event", "LIVE26", "--type", "marketo.import_leads_as_registrations",
              "--params", params, "--schedule", schedule, "--json")
    assert out.returncode == 0, out.stderr
    job_id = json.loads(out.stdout)["job_id"]
    factory = production["services"].factory
    deadline = time.monotonic() + 75
    fired = None
    while time.monotonic() < deadline:
        with factory() as s:
            fired = s.scalar(select(JobRun).where(JobRun.job_id == job_id, JobRun.status == "succeeded"))
        if fired:
            break
        time.sleep(0.3)
    assert fired is not None and fired.trigger == "schedule"
    assert fired.counters == {"unchanged": 494, "skipped": 26}  # the scheduled re-run creates nothing new

    for name, proc in production["procs"].items():
        proc.send_signal(signal.SIGTERM)
    for name, proc in production["procs"].items():
        assert proc.wait(timeout=40) == 0, f"{name} did not stop cleanly:\n{proc.stdout.read()}"
