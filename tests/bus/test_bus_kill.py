"""THE KILL TEST: SIGKILL a worker process mid-import; another one resumes the run from its
checkpoint, and every registration exists exactly once (real RabbitMQ, real PostgreSQL)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, tuple_

from connectors.bus import Relay
from connectors.models import JobRun, Profile, Registration

from .slowimport_plugin import IMPORT, expected_emails
from .support import in_thread, make_harness, wait_for

SCRIPT = Path(__file__).with_name("worker_process.py")
TOTAL, PAGE = 40, 4
LEASE = 2


@pytest.fixture
def spawn(tmp_path):
    """Start worker processes; any still alive at the end is killed."""
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")
        proc = subprocess.Popen([sys.executable, str(SCRIPT), *args, "--lease", str(LEASE), "--name", name],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_killed_worker_run_resumes_from_its_checkpoint_on_another_worker(tmp_path, bus_postgres_url, rabbitmq_url,
                                                                         amqp_namespace, spawn):
    harness = make_harness(tmp_path, bus_postgres_url)
    relay = Relay(harness.factory, rabbitmq_url, amqp_namespace)
    args = (bus_postgres_url, rabbitmq_url, amqp_namespace)
    try:
        with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"):
            first = spawn("worker-a", *args)
            run_id = harness.submit(IMPORT, {"total": TOTAL, "page_size": PAGE, "delay": 0.25})

            wait_for(lambda: (run(harness, run_id).checkpoint or {}).get("page", 0) >= 2, timeout=20,
                     what="worker-a to save a checkpoint mid-import")
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
            died = run(harness, run_id)
            assert (died.status, died.worker, died.attempt) == ("running", "worker-a", 0)
            resume_page = died.checkpoint["page"]
            assert 2 <= resume_page < TOTAL // PAGE
            assert count(harness, Profile) == resume_page * PAGE  # what the checkpoint covers, nothing more

            second = spawn("worker-b", *args)
            done = wait_for(lambda: (r := run(harness, run_id)).status not in ("queued", "running") and r,
                            timeout=30, what="worker-b to finish the run")
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0

        assert (done.status, done.attempt, done.worker) == ("succeeded", 1, "worker-b"), done.error
        messages = [line["message"] for line in done.log]
        assert "worker lease expired; re-queued as attempt 1" in messages
        assert [m for m in messages if m.startswith("starting from page")] == \
            ["starting from page 0", f"starting from page {resume_page}"]
        assert done.counters == {"created": TOTAL}  # the page cut short by the kill was rolled back, then redone

        registrations = harness.registrations()
        assert sorted(r["email"] for r in registrations) == expected_emails(TOTAL)  # none lost, none twice
        assert count(harness, Profile) == count(harness, Registration) == TOTAL
        with harness.factory() as s:  # UNIQUE(event, profile) holds
            pairs = s.scalar(select(func.count(func.distinct(tuple_(Registration.event_id, Registration.profile_id)))))
            assert pairs == TOTAL
    finally:
        harness.close()
        for log in sorted(tmp_path.glob("worker-*.log")):  # shown by pytest when the test fails
            print(f"--- {log.name}\n{log.read_text()}")


def count(harness, model) -> int:
    with harness.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def run(harness, run_id) -> JobRun:
    with harness.factory() as s:
        return s.get(JobRun, run_id)
