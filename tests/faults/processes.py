"""The production processes (``connectors relay``, ``worker``, ``dispatcher``, ``scheduler``) as
separate OS processes against the suite's private servers, each logging to a file of its own.

A scenario kills and restarts them by label ("worker", "worker-2", ...): the label names the log
file, so a restarted worker's lines stay apart from the killed one's. ``dump()`` prints every log;
the fixtures call it at teardown, which pytest shows under a failing test.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3  # a killed worker's run is re-queued this soon after its last renewal


def production_env(database_url: str, broker_url: str, namespace: str, instance_dir: Path) -> dict[str, str]:
    return {**os.environ, "CONNECTORS_DATABASE_URL": database_url, "CONNECTORS_BROKER_URL": broker_url,
            "CONNECTORS_BUS_NAMESPACE": namespace, "CONNECTORS_SECRET_KEY": "fault-suite-secret-key",
            "CONNECTORS_LEASE_SECONDS": str(LEASE_SECONDS), "CONNECTORS_INSTANCE_DIR": str(instance_dir),
            "PYTHONUNBUFFERED": "1"}


class ProductionProcesses:
    """Start, kill and stop ``connectors <command>`` processes sharing one environment."""

    def __init__(self, env: dict[str, str], folder: Path):
        self.env, self.folder = env, folder
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, command: str, label: str | None = None) -> subprocess.Popen:
        label = label or command
        assert label not in self.procs or self.procs[label].poll() is not None, f"{label} is already running"
        with (self.folder / f"{label}.log").open("ab") as log:  # the child keeps its own handle
            proc = subprocess.Popen([sys.executable, "-m", "connectors", command], env=self.env, cwd=ROOT,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.procs[label] = proc
        return proc

    def kill(self, label: str) -> None:
        """SIGKILL: no handler runs, nothing is flushed, unacked messages go back to the broker."""
        proc = self.procs[label]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL

    def stop_all(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM every live process, then wait; returns their exit codes (killed if stuck)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for label, proc in self.procs.items():
            try:
                codes[label] = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[label] = proc.wait()
        return codes

    def log(self, label: str) -> str:
        path = self.folder / f"{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dump(self) -> None:
        for path in sorted(self.folder.glob("*.log")):
            print(f"----- {path.name}\n{path.read_text(errors='replace')[-20000:]}")
