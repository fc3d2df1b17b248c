"""Fixtures of the bus tests: a broker per transport, a namespace per test (deleted afterwards),
a SQLite harness with the test plugin, and a PostgreSQL database of the bus tests' own.

RabbitMQ and PostgreSQL come from tests/conftest.py (``rabbitmq_url``, ``require_service``):
unreachable, they skip their tests with the reason, except under ``CI``, where they fail.
"""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from connectors.bus import Topology, connect
from connectors.testing import Harness

from ..conftest import fresh_postgres_database
from .support import make_harness


@pytest.fixture(params=["memory", "amqp"])
def broker_url(request) -> str:
    return "memory://" if request.param == "memory" else request.getfixturevalue("rabbitmq_url")


def delete_namespace(broker_url: str, namespace: str) -> None:
    conn = connect(broker_url)
    try:
        Topology.for_url(broker_url, namespace).delete(conn.default_channel)
    finally:
        conn.release()


@pytest.fixture
def namespace(broker_url) -> Iterator[str]:
    """A namespace of this test alone; its queues and exchanges are deleted afterwards."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    delete_namespace(broker_url, ns)


@pytest.fixture
def amqp_namespace(rabbitmq_url) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    delete_namespace(rabbitmq_url, ns)


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    h = make_harness(tmp_path)
    yield h
    h.close()


@pytest.fixture(scope="session")
def bus_postgres_url() -> Iterator[str]:
    """A fresh, uniquely named database for the bus tests (they create their own tables), dropped after."""
    with fresh_postgres_database("connectors_bus") as url:
        yield url
