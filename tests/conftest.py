"""Shared fixtures: the machine's real PostgreSQL and RabbitMQ, or a clear skip (never under CI)."""
from __future__ import annotations

import contextlib
import os
import socket
import uuid
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get("CONNECTORS_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("CONNECTORS_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a server is missing on a developer's machine; fail under CI, where it must be."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        reason = f"{name} not reachable on {host}:{port} ({exc}); `make services` starts it"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must have it")
        pytest.skip(reason)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new, uniquely named database on the machine's PostgreSQL (its URL), dropped afterwards;
    skips (fails under CI) when the server is missing."""
    url = make_url(POSTGRES_ADMIN_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh, uniquely named PostgreSQL database for this test session, dropped afterwards."""
    with fresh_postgres_database("connectors_test") as url:
        yield url


@pytest.fixture(scope="session")
def rabbitmq_url():
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return RABBITMQ_URL
