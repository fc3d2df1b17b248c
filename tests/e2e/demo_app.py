"""`connectors demo` as a user starts it, in its own folder, on free ports: shared by the CLI
end-to-end test, the browser tests and the screenshot script (docs/screenshots/take.py)."""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

START_SECONDS = 60
PORT_BLOCK = 10  # the admin's port, then one sandbox per application from the next port on


class DemoFailed(RuntimeError):
    """The demo exited or did not print its banner in time; the message holds its output."""


@dataclass
class Demo:
    url: str            # the admin's base URL, ending in "/"
    env: dict[str, str]  # the environment it runs with: pass it to the CLI to reach the same demo
    cwd: Path
    banner: str          # what it printed up to "Ctrl-C stops"
    output: list[str] = field(default_factory=list, repr=False)  # its last log lines since

    def sandbox_url(self, label: str) -> str:
        """Where the demo serves the sandbox of the application ``label`` ("Oracle Eloqua",
        "Marketo"), as its banner says: what a connection form's URL field takes."""
        found = re.search(rf"^{re.escape(label)} sandbox on (\S+)$", self.banner, re.MULTILINE)
        if found is None:
            raise LookupError(f"the demo runs no {label} sandbox:\n{self.banner}")
        return found.group(1)


def free_port_block(count: int = PORT_BLOCK) -> int:
    """The first of ``count`` consecutive free ports, below Linux's ephemeral range (32768 on) so
    that no outgoing connection takes one meanwhile. The demo's sandboxes use consecutive ports
    from CONNECTORS_SANDBOX_PORT on, so a single free port is not enough."""
    for _ in range(200):
        base = random.randrange(20000, 32768 - count)
        if all(_bindable(port) for port in range(base, base + count)):
            return base
    raise DemoFailed(f"no {count} consecutive free ports found")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@contextmanager
def running_demo(workdir: Path) -> Iterator[Demo]:
    """Start `python -m connectors demo` with its SQLite database under ``workdir/instance``,
    wait until the admin answers, and stop it with Ctrl-C (SIGINT) afterwards."""
    port = free_port_block()
    sandbox_port = port + 1
    env = {**os.environ, "CONNECTORS_INSTANCE_DIR": str(workdir / "instance"),
           "CONNECTORS_SANDBOX_PORT": str(sandbox_port), "CONNECTORS_PORT": str(port)}
    for key in ("CONNECTORS_DATABASE_URL", "CONNECTORS_BROKER_URL", "CONNECTORS_BUS_NAMESPACE"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "connectors", "demo"], env=env, cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = _wait_for_banner(proc)
        demo = Demo(url=f"http://127.0.0.1:{port}/", env=env, cwd=workdir, banner=banner)
        # Keep reading what it logs, or a long session fills the pipe and blocks the demo.
        threading.Thread(target=_drain, args=(proc, demo.output), daemon=True).start()
        _wait_for_http(demo.url + "login")
        yield demo
    finally:
        _stop(proc)


def _wait_for_banner(proc: subprocess.Popen) -> str:
    output: list[str] = []
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        output.append(line)
        if "Ctrl-C stops" in line:
            return "".join(output)
        if proc.poll() is not None:
            raise DemoFailed("demo exited:\n" + "".join(output))
    raise DemoFailed("demo did not start:\n" + "".join(output))


def _drain(proc: subprocess.Popen, into: list[str]) -> None:
    for line in proc.stdout:
        into.append(line)
        del into[:-500]  # the last lines are enough to explain a failure


def _wait_for_http(url: str) -> None:
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
