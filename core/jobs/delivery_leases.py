"""One thread renews the leases of every delivery this process is sending.

A delivery's row says ``sending`` with a lease; while the plugin works, the lease must be
renewed so that a slow send is not taken for a dead one (``deliveries.to_verify``). One thread
per delivery did that before; now one shared daemon thread renews, per beat, all rows held by
the same worker with one UPDATE. Crash safety is unchanged: the UPDATE still only touches rows
that are ``sending`` and held by that worker, and a dead process renews nothing, so its leases
run out exactly as before. The beat for a lease of ``n`` seconds is still ``n / 3``.

Holds nest (a count per delivery): the dispatcher holds a row from the moment it claims it,
while it waits for a free sender, and ``send`` holds it again while the plugin works.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from ..db import transaction
from ..models import Delivery, utcnow

log = logging.getLogger(__name__)
TICK = 0.1  # how often the thread looks whether a group's beat has come


class _Group:
    """The deliveries one worker of one database holds with one lease length."""

    def __init__(self, seconds: int):
        self.ids: dict[int, int] = {}  # delivery id -> holds
        self.seconds = seconds
        self.next_beat = time.monotonic() + max(seconds / 3, 0.2)


class LeaseRenewer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[tuple[sessionmaker[Session], str, int], _Group] = {}
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, factory: sessionmaker[Session], delivery_id: int, worker: str,
                lease_seconds: int) -> Iterator[None]:
        """Renew the delivery's lease until the block ends."""
        self.hold(factory, delivery_id, worker, lease_seconds)
        try:
            yield
        finally:
            self.release(factory, delivery_id, worker, lease_seconds)

    def hold(self, factory: sessionmaker[Session], delivery_id: int, worker: str, lease_seconds: int) -> None:
        key = (factory, worker, lease_seconds)
        with self._lock:
            ids = self._groups.setdefault(key, _Group(lease_seconds)).ids
            ids[delivery_id] = ids.get(delivery_id, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="delivery-leases", daemon=True)
                self._thread.start()

    def release(self, factory: sessionmaker[Session], delivery_id: int, worker: str, lease_seconds: int) -> None:
        key = (factory, worker, lease_seconds)
        with self._lock:
            group = self._groups.get(key)
            if group is None or delivery_id not in group.ids:
                return
            group.ids[delivery_id] -= 1
            if group.ids[delivery_id] <= 0:
                del group.ids[delivery_id]
            if not group.ids:
                del self._groups[key]

    def _run(self) -> None:
        while True:
            time.sleep(TICK)
            now = time.monotonic()
            with self._lock:
                due = [(key, sorted(g.ids)) for key, g in self._groups.items() if g.next_beat <= now]
                for key, _ in due:
                    self._groups[key].next_beat = now + max(key[2] / 3, 0.2)
            for (factory, worker, seconds), ids in due:
                self._renew(factory, worker, seconds, ids)

    @staticmethod
    def _renew(factory: sessionmaker[Session], worker: str, seconds: int, ids: list[int]) -> None:
        try:
            with transaction(factory) as s:
                s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.state == "sending",
                                                 Delivery.worker == worker)
                          .values(lease_until=utcnow() + timedelta(seconds=seconds)))
        except Exception:  # noqa: BLE001 - a passing database error: try again next beat
            log.exception("renewing the leases of deliveries %s failed", ids)


#: the process's one renewer
leases = LeaseRenewer()
