"""Fixtures of the bus tests: brokers, a PostgreSQL database, a harness with the test plugin,
and background relay/worker threads.

Integration servers (RabbitMQ, PostgreSQL) being unreachable skips their tests with the reason,
unless ``CI`` is set: there a missing server fails the test, since CI must exercise them.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))  # the test plugin, whatever pytest's import mode

import slowimport_plugin  # noqa: E402

from connectors.bus import Relay, Topology, Worker, connect  # noqa: E402
from connectors.db import make_engine  # noqa: E402
from connectors.testing import Harness  # noqa: E402

AMQP_URL = os.environ.get("CONNECTORS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
PG_URL = os.environ.get("CONNECTORS_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    """Skip — or, under CI, fail: integration servers are part of CI's contract."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this integration test must run)")
    pytest.skip(reason)


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- servers -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    conn = connect(AMQP_URL, connect_timeout=3)
    try:
        conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        unavailable(f"RabbitMQ unreachable at {AMQP_URL.split('@')[-1]}: {exc}")
    finally:
        conn.release()
    return AMQP_URL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named database for this test session, dropped afterwards."""
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        unavailable(f"PostgreSQL unreachable at {PG_URL}: {str(exc).splitlines()[0]}")
    name = f"connectors_bus_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["memory", "amqp"])
def broker_url(request) -> str:
    return "memory://" if request.param == "memory" else request.getfixturevalue("rabbitmq_url")


@pytest.fixture
def namespace(request, broker_url) -> Iterator[str]:
    """A namespace of this test alone; its queues and exchanges are deleted afterwards."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    conn = connect(broker_url)
    try:
        Topology.for_url(broker_url, ns).delete(conn.default_channel)
    finally:
        conn.release()


# -- database with the test plugin -----------------------------------------------------------------
def make_harness(tmp_path, database_url: str | None = None) -> Harness:
    harness = Harness(tmp_path, plugins={"testapp": slowimport_plugin}, database_url=database_url)
    harness.configure(slowimport_plugin.APPLICATION, {})
    return harness


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    h = make_harness(tmp_path)
    yield h
    h.close()


# -- background machinery ------------------------------------------------------------------------
@contextlib.contextmanager
def in_thread(target: Callable[[threading.Event], None], name: str) -> Iterator[threading.Event]:
    """Run ``target(stop_event)`` in a thread for the block's duration."""
    stop = threading.Event()
    thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), f"{name} did not stop"


def worker_for(harness: Harness, broker_url: str, namespace: str, **kwargs) -> Worker:
    options = {"concurrency": 2, "lease_seconds": 5, "reap_interval": 0.5, "poll_interval": 0.1,
               "grace_seconds": 5, **kwargs}
    return Worker(factory=harness.factory, registry=harness.registry, box=harness.box, broker_url=broker_url,
                  namespace=namespace, **options)


@contextlib.contextmanager
def bus_running(harness: Harness, broker_url: str, namespace: str, **worker_options) -> Iterator[Worker]:
    """A relay and a worker in background threads, both stopped at the end of the block."""
    relay = Relay(harness.factory, broker_url, namespace)
    worker = worker_for(harness, broker_url, namespace, **worker_options)
    with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"), \
         in_thread(worker.run, "worker"):
        yield worker
