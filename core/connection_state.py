"""``ConnectionState``: a plugin configuration's secrets as state the plugin keeps up to date.

Some targets rotate credentials as they are used — Eloqua's OAuth refresh tokens are single use:
every refresh returns a new one and kills the old. Whoever refreshes must store the new token
before using it, where every other worker and process finds it; lose it and a person has to
authorise the app again. So:

- ``load()`` reads the latest secrets (decrypted) in a short transaction of its own;
- ``save(values)`` merges values into the encrypted secrets in a short transaction of its own,
  with the configuration's row locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
  ``BEGIN IMMEDIATE``), and returns only once committed; a value of None removes the key;
- ``exclusive()`` holds the configuration's lease (a compare-and-set on two columns, no
  transaction kept open) while the holder talks to the target — say, spends the refresh token —
  so two workers never both use the same single-use token. A holder that dies leaves a lease
  that expires after ``seconds``.

No transaction stays open across a remote call: on SQLite that would stop every other writer.

A job run (or a delivery) builds its state with ``session=`` its own session. On SQLite that
session holds the database's write lock from its first statement to its commit (``BEGIN
IMMEDIATE``), so a save made from inside its open transaction, on another connection of the same
thread, would wait for itself until the busy timeout. So before reading or writing, the state
ends that transaction when it has written nothing (``db.end_if_unwritten``: nothing is lost), and
refuses with ``RunHoldsWrites`` — before any token is spent — when it has uncommitted writes: the
core cannot commit half a batch apart from its checkpoint, so the job must save its checkpoint
(``ctx.checkpoint.save``) before it calls the target with work in hand. See docs/decisions.md.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .db import end_if_unwritten, transaction
from .models import PluginConfig, utcnow
from .secrets import SecretBox

#: how long a lease lasts when its holder dies, and how long others wait for it at most
LEASE_SECONDS, WAIT_SECONDS, POLL_SECONDS = 120.0, 150.0, 0.1


class StateBusy(RuntimeError):
    """Another holder kept the lease longer than we could wait: try again later."""


class RunHoldsWrites(RuntimeError):
    """The calling run's SQLite session has uncommitted writes: the state cannot be saved now."""


class ConnectionState:
    def __init__(self, factory: sessionmaker[Session], box: SecretBox, config_id: int,
                 session: Session | None = None):
        self._factory, self._box, self.config_id = factory, box, config_id
        # the run's own session, and the thread that runs it (only that thread can wait for itself)
        self._run_session, self._run_thread = session, threading.get_ident()

    def _free_the_write_lock(self) -> None:
        """Called before every read and write: see the module's docstring."""
        s = self._run_session
        if s is None or threading.get_ident() != self._run_thread or s.get_bind().dialect.name != "sqlite":
            return  # (on PostgreSQL the run's transaction locks no configuration row)
        if end_if_unwritten(s):
            return
        raise RunHoldsWrites("the run has uncommitted database changes while it calls the remote application, so the "
                             "connection's rotated credentials could not be saved (SQLite's write lock is the run's): "
                             "save a checkpoint before such calls; nothing was spent")

    def load(self) -> dict[str, Any]:
        """The configuration's secrets as stored now (another worker may have changed them)."""
        self._free_the_write_lock()
        with transaction(self._factory) as s:
            config = s.get(PluginConfig, self.config_id, populate_existing=True)
            return self._box.open(config.secrets) if config is not None else {}

    def save(self, values: dict[str, Any]) -> None:
        """Merge ``values`` into the secrets (None removes a key), durably, before returning."""
        self._free_the_write_lock()
        with transaction(self._factory) as s:
            q = select(PluginConfig).where(PluginConfig.id == self.config_id).execution_options(populate_existing=True)
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update()
            config = s.scalar(q)
            if config is None:
                raise LookupError(f"plugin configuration {self.config_id} no longer exists")
            merged = {**self._box.open(config.secrets), **values}
            config.secrets = self._box.seal({k: v for k, v in merged.items() if v is not None})

    @contextmanager
    def exclusive(self, seconds: float = LEASE_SECONDS, wait: float = WAIT_SECONDS) -> Iterator[None]:
        """Hold the configuration's lease for the block; waits for another holder (at most
        ``wait`` seconds, then ``StateBusy``). Re-read the state inside the block: the previous
        holder may have done what you were about to do."""
        self._free_the_write_lock()
        holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait
        while not self._take(holder, seconds):
            if time.monotonic() >= deadline:
                raise StateBusy(f"the connection state of plugin configuration {self.config_id} stayed locked for "
                                f"{wait:.0f} s by another worker")
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            with transaction(self._factory) as s:
                s.execute(update(PluginConfig).where(PluginConfig.id == self.config_id,
                                                     PluginConfig.state_lease_holder == holder)
                          .values(state_lease_holder=None, state_lease_until=None)
                          .execution_options(synchronize_session=False))

    def _take(self, holder: str, seconds: float) -> bool:
        now = utcnow()
        with transaction(self._factory) as s:
            res = s.execute(update(PluginConfig).where(
                PluginConfig.id == self.config_id,
                or_(PluginConfig.state_lease_holder.is_(None), PluginConfig.state_lease_until < now))
                .values(state_lease_holder=holder, state_lease_until=now + timedelta(seconds=seconds))
                .execution_options(synchronize_session=False))
            return res.rowcount == 1
