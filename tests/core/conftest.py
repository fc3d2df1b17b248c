"""Shared database fixtures for core tests: one migrated database per dialect per test session.

``db_url`` is parametrized over SQLite (a temp file) and the machine's PostgreSQL (a fresh,
uniquely named, migrated database of its own, dropped afterwards: tests that migrate up and down
``tests/conftest.py``'s ``postgres_url`` cannot disturb it). PostgreSQL being unreachable skips
those tests, unless ``CI`` is set, where it fails: CI must exercise PostgreSQL.
Each test starts from empty tables (``engine`` empties them), so tests never see each other's rows.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from connectors.db import make_engine, session_factory
from connectors.models import Base

PG_URL = os.environ.get("CONNECTORS_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _migrate(url: str) -> None:
    """The lead's Alembic migration when present (what production runs), else ``create_all``."""
    try:
        from connectors.migrations import upgrade
    except ImportError:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
    else:
        upgrade(url)


@pytest.fixture(scope="session")
def sqlite_db_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'connectors.db'}"
    _migrate(url)
    return url


@pytest.fixture(scope="session")
def postgresql_db_url():
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL unreachable at {PG_URL}: {str(exc).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(reason)
    name = f"connectors_core_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    return request.getfixturevalue(f"{request.param}_db_url")


def _empty_tables(engine) -> None:
    tables = [t for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    _empty_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine):
    return session_factory(engine)
