"""Engine and session factory: one place that knows SQLite from PostgreSQL."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL lets web, worker and relay threads share the file
            dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the write lock up front (no failed lock upgrades); sessions from
            # ``read_session_factory`` begin deferred and never block a writer (WAL).
            conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "IMMEDIATE"))
            conn.info["changes_at_begin"] = conn.connection.dbapi_connection.total_changes

        return engine
    engine = create_engine(url, **kwargs)
    _ping_connections_that_sat_idle(engine)
    return engine


#: a pooled connection unused for longer than this is tested before it is handed out
IDLE_PING_SECONDS = 10.0


def _ping_connections_that_sat_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections that sat idle in the pool.

    A server restart or an idle timeout kills connections while they wait in the pool; a ping
    before each checkout finds them, at the price of a round trip per transaction — a fifth of a
    status change's statements. A connection checked in moments ago is almost surely alive, and
    if it is not, the statement fails, SQLAlchemy sees the disconnect and empties the pool, and
    the caller's retry gets a fresh one (every loop of ours retries)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as exc:  # noqa: BLE001 - the pool replaces it and tries again
            raise DisconnectionError(f"pooled connection died while idle: {exc}") from exc


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def refresh_statistics(session: Session, tables: Iterable[str]) -> None:
    """Let PostgreSQL's planner see how big these tables have grown.

    Without statistics (a fresh table, autovacuum off or behind) PostgreSQL matched each import
    batch's e-mails and external ids by scanning every row of the account, so a large import
    slowed down as it went. ``ANALYZE`` samples a fixed number of rows, so it costs the same at any
    size. SQLite's plans are right without statistics (migration 0005), and its ``ANALYZE`` reads
    whole tables, so there this does nothing."""
    if is_postgres(session.get_bind()):
        session.execute(text("ANALYZE " + ", ".join(tables)))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading (page views, polling): on SQLite they take no write lock."""
    return sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


def end_if_unwritten(session: Session) -> bool:
    """On SQLite, commit ``session``'s open transaction if it has written nothing yet — which
    frees the write lock ``BEGIN IMMEDIATE`` took and loses no work; True when the session holds
    no transaction afterwards. A transaction with writes (flushed or pending) is left alone."""
    if not session.in_transaction():
        return True
    if session.get_bind().dialect.name != "sqlite" or session.new or session.dirty or session.deleted:
        return False
    conn = session.connection()
    if conn.connection.dbapi_connection.total_changes != conn.info.get("changes_at_begin"):
        return False
    session.commit()
    return True


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together, or not at all."""
    with factory() as session:
        with session.begin():
            yield session


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached or cannot serve anyone right now
    (connection refused or lost, pool exhausted, server shutting down, SQLite busy), as opposed
    to a statement that fails by itself (an integer out of range, a NUL byte, a constraint).

    Consumers of the bus act on the difference: an outage is waited out with the message held,
    a failure of one message is that message's alone and must not stop the others."""
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        return isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError))
    return False  # not the database's: a plugin's network error is the plugin's to report
