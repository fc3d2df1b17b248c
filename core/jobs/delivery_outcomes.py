"""Recording delivery outcomes: each sender waits for its own, many share one transaction.

A sender must not move on before its outcome is committed (the row says ``sending`` until
then, and a crash in between is settled through ``verify``, never by a blind resend). But one
transaction per outcome costs more than the send itself at hundreds of events a second. So
outcomes are group-committed: whoever takes the write lock records every outcome queued so far,
in one transaction — one UPDATE for the outcomes that differ only in their remote id — and wakes
their senders; those that arrive meanwhile are the next group.
No thread of its own, and no added wait when senders are few.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, update
from sqlalchemy.orm import Session, sessionmaker

from ..db import transaction
from ..models import Delivery

_rows = Delivery.__table__
_COLUMNS = ("state", "last_error", "remote_id", "next_attempt_at", "worker", "lease_until", "updated_at")


@dataclass
class _Outcome:
    delivery_id: int
    worker: str
    values: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    recorded: bool = False
    error: BaseException | None = None


class _Group:
    def __init__(self) -> None:
        self.queue: list[_Outcome] = []
        self.queue_lock = threading.Lock()
        self.write_lock = threading.Lock()


class OutcomeRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[sessionmaker[Session], _Group] = {}

    def record(self, factory: sessionmaker[Session], delivery_id: int, worker: str, values: dict[str, Any]) -> bool:
        """Write ``values`` (every column of ``_COLUMNS``) on the delivery if ``worker`` still holds
        it (``sending``); True if it did."""
        with self._lock:
            group = self._groups.setdefault(factory, _Group())
        outcome = _Outcome(delivery_id, worker, values)
        with group.queue_lock:
            group.queue.append(outcome)
        with group.write_lock:
            if not outcome.done.is_set():
                with group.queue_lock:
                    batch, group.queue = group.queue, []
                self._write(factory, batch)
        if outcome.error is not None:
            raise outcome.error
        return outcome.recorded

    @staticmethod
    def _write(factory: sessionmaker[Session], batch: list[_Outcome]) -> None:
        try:
            recorded: set[int] = set()
            with transaction(factory) as s:
                connection = s.connection()
                for group in _groups(batch):
                    recorded.update(_record(connection, group))
            for outcome in batch:
                outcome.recorded = outcome.delivery_id in recorded
        except BaseException as exc:  # noqa: BLE001 - every waiting sender learns it was not recorded
            for outcome in batch:
                outcome.error = exc
        finally:
            for outcome in batch:
                outcome.done.set()


def _groups(batch: list[_Outcome]) -> list[list[_Outcome]]:
    """Outcomes that differ only in their remote id (most often: all ``sent``) go in one UPDATE."""
    groups: dict[tuple, list[_Outcome]] = {}
    for o in batch:
        key = (o.worker, *((name, o.values[name]) for name in _COLUMNS if name not in ("remote_id", "updated_at")))
        groups.setdefault(key, []).append(o)
    return list(groups.values())


def _record(connection, group: list[_Outcome]) -> list[int]:
    """The ids of the group's deliveries that were still held (and are now written)."""
    first = group[0]
    params = {f"b_{name}": first.values[name] for name in _COLUMNS if name != "remote_id"}
    params["b_holder"] = first.worker
    for k, o in enumerate(group):
        params[f"b_id{k}"], params[f"b_remote{k}"] = o.delivery_id, o.values["remote_id"]
    return list(connection.execute(_record_group(len(group)), params).scalars())


@lru_cache(maxsize=256)
def _record_group(size: int):
    """One UPDATE for ``size`` outcomes that differ only in their remote id, built once per size
    (bind parameters only: compiled and keyed once, not for every group)."""
    ids = [bindparam(f"b_id{k}") for k in range(size)]
    values = {name: bindparam(f"b_{name}") for name in _COLUMNS if name != "remote_id"}
    values["remote_id"] = case(*((_rows.c.id == ids[k], bindparam(f"b_remote{k}", type_=_rows.c.remote_id.type))
                                 for k in range(size)))
    return (update(_rows).where(_rows.c.id.in_(ids), _rows.c.state == "sending", _rows.c.worker == bindparam("b_holder"))
            .values(values).returning(_rows.c.id))


#: the process's one recorder
outcomes = OutcomeRecorder()
