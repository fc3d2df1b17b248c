"""Pooled PostgreSQL connections: one that died while idle in the pool is never handed out."""
from sqlalchemy import text

from connectors import db
from connectors.db import make_engine


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(admin, pid: int) -> None:
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()


def test_a_connection_killed_while_idle_is_replaced_before_use(postgresql_db_url, monkeypatch):
    engine, admin = make_engine(postgresql_db_url, pool_size=1), make_engine(postgresql_db_url)
    try:
        pid = _backend_pid(engine)  # now idle in the pool
        _terminate(admin, pid)
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has sat idle long enough to be tested
        assert _backend_pid(engine) != pid  # the ping found it dead; a fresh one was handed out
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_killed_moments_after_use_fails_once_then_the_pool_recovers(postgresql_db_url):
    engine, admin = make_engine(postgresql_db_url, pool_size=1), make_engine(postgresql_db_url)
    try:
        pid = _backend_pid(engine)
        _terminate(admin, pid)
        failed = False
        try:
            _backend_pid(engine)  # not pinged: checked in moments ago
        except Exception:  # noqa: BLE001 - the disconnect surfaces once, as with a server restart mid-use
            failed = True
        assert _backend_pid(engine) != pid
        assert failed
    finally:
        engine.dispose()
        admin.dispose()
