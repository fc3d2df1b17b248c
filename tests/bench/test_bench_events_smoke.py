"""Smoke test of the events benchmark (bench/events.py, not itself a test): ``--quick`` sends status
changes through RabbitMQ and PostgreSQL to the Eloqua sandbox and imports a small contact list;
no change is lost or turned into two activities, and the JSON with the figures is written."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_events_benchmark_loses_and_duplicates_nothing(tmp_path, rabbitmq_url, postgres_url):
    out = tmp_path / "events.json"
    env = {**os.environ, "CONNECTORS_TEST_RABBITMQ": rabbitmq_url}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "events.py"), "--quick", "--postgres", postgres_url,
                           "--output", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(out.read_text())

    assert data["parameters"]["quick"] is True and data["failures"] == []
    runs = {(r["database"], r["bus"]): r for r in data["scenarios"]["events"]}
    assert set(runs) == {("postgresql", "amqp")}
    for run in runs.values():
        assert run["events"] > 0 and run["lost"] == 0 and run["duplicated"] == 0, run
        assert run["activities"] == run["events"] and run["deliveries"] == {"sent": run["events"]}
        assert 0 < run["latency"]["p50"] <= run["latency"]["p99"] <= run["latency"]["max"]
    assert set(runs["postgresql", "amqp"]["cpu_seconds"]) == {"worker", "relay", "dispatcher", "writer", "sandbox",
                                                              "postgresql", "rabbitmq"}

    imports = data["scenarios"]["import"]
    assert {(r["contacts"], r["traced"]) for r in imports} == {(300, False), (300, True)}
    for run in imports:
        assert run["status"] == "succeeded" and run["imported"] == run["contacts"], run
        assert run["contacts_per_second"] > 0 and run["rss_delta_mb"] is not None
        assert (run["traced_peak_mb"] is not None) == run["traced"]
