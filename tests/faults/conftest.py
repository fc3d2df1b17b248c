"""Fixtures of the fault tests: a PostgreSQL database of each test's own, reached through a TCP
proxy the test can cut (``proxy.TcpProxy``), and the machine's RabbitMQ in a namespace of the
test's own. The machine's servers are never stopped: the proxy is what goes away.

The standing fault suite (``test_scenario_*.py``) runs against a PostgreSQL cluster and a RabbitMQ
node it starts itself (``servers.py``), with the production processes (``processes.py``)."""
from __future__ import annotations

import os
from typing import Iterator

import pytest
from sqlalchemy.engine import make_url


from ..bus.conftest import amqp_namespace  # noqa: F401  (the fixture: a namespace of the test's own)
from ..conftest import POSTGRES_ADMIN_URL, fresh_postgres_database
from .proxy import TcpProxy
from .servers import PrivatePostgres, PrivateRabbitMQ, port_open
from .stack import Stack


@pytest.fixture
def postgres_db() -> Iterator[str]:
    with fresh_postgres_database("connectors_fault") as url:
        yield url


@pytest.fixture
def postgres_proxy() -> Iterator[TcpProxy]:
    url = make_url(POSTGRES_ADMIN_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture
def sqlite_harness(tmp_path):
    """A SQLite harness with the bus tests' slow-import plugin."""
    from ..bus.support import make_harness

    harness = make_harness(tmp_path)
    yield harness
    harness.close()


# -- the standing fault suite: servers of its own, the production processes ------------------------------
def _require(unavailable: str | None, what: str) -> None:
    """Skip when the private server cannot run here; fail under CI, where the suite must run."""
    if unavailable:
        reason = f"{what}: {unavailable}"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must run the fault suite")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the suite's own (never the machine's on 5432): scenarios stop it."""
    _require(PrivatePostgres.unavailable(), "private PostgreSQL")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    """A RabbitMQ node of the suite's own (never the machine's on 5672): scenarios kill it."""
    _require(PrivateRabbitMQ.unavailable(), "private RabbitMQ")
    server = PrivateRabbitMQ()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def stack(private_postgres, private_rabbitmq, tmp_path) -> Iterator[Stack]:
    """A database and namespace of the test's own on the private servers, and its processes;
    the servers are running again at the end whatever the test did to them."""
    built = Stack(private_postgres, private_rabbitmq, tmp_path)
    try:
        yield built
    finally:
        built.close()
        if not private_postgres.running():
            private_postgres.start()
        if not port_open(private_rabbitmq.port):
            private_rabbitmq.start()
