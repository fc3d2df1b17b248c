"""A PostgreSQL cluster and a RabbitMQ node of the fault suite's own, on ports of their own.

The scenarios kill, stop and restart the servers; the machine's own (5432, 5672) must never be
touched, so each server here lives in a temporary directory with its own data, its own port and
(RabbitMQ) its own node name and Erlang cookie. Both need root on this machine: PostgreSQL's
binaries run as the ``postgres`` OS user (it refuses root), and RabbitMQ's node is started as
root with a private ``HOME`` so that its cookie never replaces the machine node's.

``unavailable()`` says why a server cannot be had here (not root, binaries missing): the fixtures
skip with that reason, or fail under ``CI=true`` where the suite must run.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_port(port: int, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on {port} within {timeout:.0f}s")


def wait_port_closed(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_open(port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} still listening on {port} after {timeout:.0f}s")


# -- PostgreSQL ------------------------------------------------------------------------------------------
def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """``initdb`` into a temporary directory (trust auth, socket inside it), ``pg_ctl`` to start and
    stop it. ``stop(mode="immediate")`` is a crash as far as clients can tell; ``start()`` brings the
    same cluster back, with its data."""

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0:
            return "the private PostgreSQL runs its binaries as the postgres OS user: needs root"
        if postgres_bin() is None:
            return "no PostgreSQL binaries under /usr/lib/postgresql/*/bin"
        if shutil.which("runuser") is None:
            return "runuser (util-linux) missing"
        return None

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        shutil.chown(self.root, "postgres", "postgres")
        self.start_seconds: list[float] = []

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {out.stdout}{out.stderr}")
        return out

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")

    def start(self) -> float:
        """Start the cluster and wait until it accepts connections; returns the seconds it took."""
        started = time.monotonic()
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", "60", "start")
        wait_port(self.port, 60, "PostgreSQL")
        self.start_seconds.append(round(time.monotonic() - started, 2))
        return self.start_seconds[-1]

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def running(self) -> bool:
        return port_open(self.port)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# -- RabbitMQ --------------------------------------------------------------------------------------------
class PrivateRabbitMQ:
    """A second RabbitMQ node on this host: its own node name, AMQP and distribution ports, data,
    logs, (empty) plugins file and config, and an Erlang cookie in a private ``HOME``. ``kill()``
    SIGKILLs its Erlang VM (a crash: nothing flushed, nothing said to clients); ``start()`` again
    with the same directories brings the node back with its durable queues and messages."""

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0:
            return "the private RabbitMQ node is started as root with a home of its own: needs root"
        if not (RABBITMQ_BIN / "rabbitmq-server").exists():
            return f"no rabbitmq-server under {RABBITMQ_BIN}"
        return None

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-rmq-"))
        self.node = f"f{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        self.start_seconds: list[float] = []
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
            "disk_free_limit.absolute = 50MB\n")
        (self.root / "rabbitmq-env.conf").write_text("")  # never the machine's /etc/rabbitmq/rabbitmq-env.conf
        (self.root / ".erlang.cookie").write_text(uuid.uuid4().hex)
        (self.root / ".erlang.cookie").chmod(0o400)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.root), "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.root / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
                "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
                "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}"}

    def start(self) -> float:
        """Start the node (again) and wait until it accepts AMQP connections; returns the seconds."""
        started = time.monotonic()
        with (self.root / "server.out").open("ab") as out:
            self.proc = subprocess.Popen([str(RABBITMQ_BIN / "rabbitmq-server")], env=self.env(), cwd=self.root,
                                         stdout=out, stderr=out, start_new_session=True)
        wait_port(self.port, 120, f"RabbitMQ node {self.node}", self.proc)
        self.start_seconds.append(round(time.monotonic() - started, 2))
        return self.start_seconds[-1]

    def beam_pid(self) -> int | None:
        """The node's Erlang VM (``beam.smp``), found by its private home on its command line."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline and cmdline[0].endswith(b"beam.smp") and str(self.root).encode() in cmdline:
                return int(proc.name)
        return None

    def kill(self) -> None:
        """SIGKILL the node's VM: the crash a scenario injects; waits until the port is closed."""
        pid = self.beam_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(30)
        wait_port_closed(self.port, 30, "the killed RabbitMQ node")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, "stop"], env=self.env(),
                       capture_output=True, timeout=60)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            if self.beam_pid() is not None:
                self.kill()
            shutil.rmtree(self.root, ignore_errors=True)
