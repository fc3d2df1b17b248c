"""``ConnectionState`` built with a run's own session: on SQLite that session holds the write lock
while its transaction is open, so the state frees it when nothing was written (no waiting on
itself until the busy timeout) and refuses at once, spending nothing, when writes are pending;
on PostgreSQL a run's open transaction never stands in the way."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from connectors import ConnectionState
from connectors.connection_state import RunHoldsWrites
from connectors.db import end_if_unwritten
from connectors.models import Account

from .test_connection_state import BOX, config_id  # noqa: F401 - the configuration fixture they share

def is_sqlite(factory) -> bool:
    return factory.kw["bind"].dialect.name == "sqlite"


def test_a_run_session_that_only_read_is_ended_and_the_save_goes_through_at_once(factory, config_id):
    run = factory()
    account = run.scalar(select(Account))  # the run's transaction is open (SQLite: with the write lock)
    state = ConnectionState(factory, BOX, config_id, session=run)
    started = time.monotonic()
    state.save({"refresh_token": "r2"})
    with state.exclusive(seconds=5, wait=5):
        assert state.load()["refresh_token"] == "r2"
    assert time.monotonic() - started < 5  # never waited for the busy timeout
    assert account.name == "Acme"  # what the run had loaded stays usable
    if is_sqlite(factory):
        assert not run.in_transaction()
    run.close()


def test_a_run_session_with_uncommitted_writes_is_refused_at_once_and_keeps_them(factory, config_id):
    run = factory()
    run.execute(update(Account).values(name="Acme Corp"))  # half a batch, not committed
    state = ConnectionState(factory, BOX, config_id, session=run)
    if is_sqlite(factory):
        started = time.monotonic()
        with pytest.raises(RunHoldsWrites, match="save a checkpoint"):
            state.save({"refresh_token": "r2"})
        with pytest.raises(RunHoldsWrites):
            with state.exclusive(seconds=5, wait=5):
                pass
        assert time.monotonic() - started < 5
        assert run.in_transaction()  # nothing of the run's was committed behind its back
        run.commit()
        assert state.load()["refresh_token"] == "r1"
    else:  # PostgreSQL: the run's transaction locks no configuration row
        state.save({"refresh_token": "r2"})
        run.rollback()
        assert state.load()["refresh_token"] == "r2"
    with factory() as s:
        assert s.scalar(select(Account.name)) == ("Acme Corp" if is_sqlite(factory) else "Acme")
    run.close()


def test_pending_orm_changes_count_as_writes(factory, config_id):
    with factory() as run:
        run.scalar(select(Account)).name = "Changed"
        assert end_if_unwritten(run) is False and run.in_transaction()
        run.rollback()
        run.scalar(select(Account))
        assert end_if_unwritten(run) is is_sqlite(factory)  # PostgreSQL: left as it is
        assert run.in_transaction() is not is_sqlite(factory)


def test_another_thread_leaves_the_run_session_alone(factory, config_id):
    run = factory()
    run.scalar(select(Account))
    state = ConnectionState(factory, BOX, config_id, session=run)
    done = []
    worker = threading.Thread(target=lambda: done.append(state.load()["refresh_token"]))
    worker.start()
    worker.join(0.5)
    assert run.in_transaction()  # only the run's own thread may end its transaction
    run.commit()
    worker.join(10)
    assert done == ["r1"]
    run.close()
