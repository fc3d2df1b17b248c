"""Smoke test of the Marketo benchmark (bench/marketo.py, not itself a test): ``--quick`` runs
every scenario at small sizes, writes its JSON with the figures, and no run drew a 606."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_its_figures(tmp_path):
    out = tmp_path / "marketo.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "marketo.py"), "--quick", "--output", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # a hang guard, not a timing
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(out.read_text())

    assert {"cpu_count", "python", "sqlite", "postgresql"} <= set(data["machine"])
    assert data["parameters"]["quick"] is True and data["failures"] == []

    sync = data["scenarios"]["sync"]
    for run in [*sync["limited"], sync["baseline"]]:
        assert run["status"] == "succeeded", run
        assert run["calls"]["errors_606"] == 0
        assert run["sync_calls"] == run["min_sync_calls"] == -(-run["registrations"] // 300)
        assert run["wall_seconds"] > 0 and "python" in run["split"]
    limited = sync["limited"][0]
    assert limited["limits"]["client"][0] < limited["limits"]["sandbox"][0]
    assert limited["bound_seconds"] > 0 and limited["ratio"] >= 0.95  # never faster than the limit allows
    assert limited["split"]["limiter wait"] > 0

    imports = data["scenarios"]["import"]
    assert imports["bulk"] and imports["rest"]
    for run in imports["bulk"] + imports["rest"]:
        assert run["status"] == "succeeded" and run["imported"] == run["leads"], run
        assert run["calls"]["errors_606"] == 0 and run["leads_per_second"] > 0
        assert run["rss_delta_mb"] is not None and run["traced_peak_mb"] is not None
    assert all(run["calls"]["rest"] < 10 for run in imports["bulk"])  # an export, not pages

    databases = data["scenarios"]["databases"]
    for run in databases.values():
        assert run["status"] == "succeeded" and run["imported"] == run["leads"]
