"""A fixed number of execution slots, each run in its own daemon thread.

Not a ``ThreadPoolExecutor``: its threads are joined at interpreter exit, so a worker could
never abandon a run it was asked to stop. A daemon thread dies with the process; its run's
lease then expires and another worker resumes it from its checkpoint.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Hashable

log = logging.getLogger(__name__)


class Slots:
    def __init__(self, size: int, name: str = "run"):
        if size < 1:
            raise ValueError("a worker needs at least one slot")
        self.size, self.name = size, name
        self._lock = threading.Lock()
        self._busy: dict[Hashable, threading.Thread] = {}
        self.freed = threading.Event()  # set whenever a slot frees up, so a waiting loop can wake

    def free(self) -> int:
        with self._lock:
            return self.size - len(self._busy)

    def busy(self) -> list[Hashable]:
        with self._lock:
            return list(self._busy)

    def start(self, key: Hashable, fn: Callable[[], object]) -> None:
        """Run ``fn`` in a free slot; the caller checked there is one."""
        def body() -> None:
            try:
                fn()
            except BaseException:  # noqa: BLE001 - the slot must be given back whatever happens
                log.exception("slot %s ended with an error", key)
            finally:
                with self._lock:
                    self._busy.pop(key, None)
                self.freed.set()

        with self._lock:
            if len(self._busy) >= self.size:
                raise RuntimeError("no free slot")
            thread = threading.Thread(target=body, name=f"{self.name}-{key}", daemon=True)
            self._busy[key] = thread
        thread.start()

    def join(self, timeout: float | None) -> list[Hashable]:
        """Wait for running slots (at most ``timeout`` seconds); return the keys still running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._busy.values())
            if not threads:
                return []
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return self.busy()
            threads[0].join(remaining)
