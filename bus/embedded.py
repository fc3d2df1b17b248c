"""Everything behind the admin in one process: relay, worker (which also reaps), event
dispatcher, dead-letter collector and scheduler,
as daemon threads sharing the kombu ``memory://`` transport — what ``connectors demo`` runs.

The same classes run as separate processes in production; only the transport URL changes.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable

from .dead_letters import DeadLetterCollector
from .dispatcher import EventDispatcher
from .relay import Relay
from .worker import Worker

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session, sessionmaker

    from connectors.services import Services

log = logging.getLogger(__name__)


def scheduler_loop(factory: "sessionmaker[Session]", stop_event: threading.Event, interval: float) -> None:
    """Tick the core scheduler until stopped; tolerates a core without one (logged, not fatal)."""
    try:
        from connectors.jobs import scheduler  # noqa: PLC0415 - optional part of the core
    except ImportError:
        log.warning("no scheduler in this core (connectors.jobs.scheduler): schedules will not fire")
        return
    run_forever = getattr(scheduler, "run_forever", None)
    if run_forever is not None:
        run_forever(factory, interval=interval, stop_event=stop_event)
        return
    while not stop_event.is_set():
        try:
            scheduler.tick(factory)
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("scheduler tick failed")
        stop_event.wait(interval)


class Embedded:
    """``start()`` the bus machinery in background threads; ``stop()`` it (idempotent)."""

    def __init__(self, services: "Services", *, broker_url: str | None = None, namespace: str | None = None,
                 interval: float = 0.2, concurrency: int | None = None, reap_interval: float = 2.0,
                 grace_seconds: float = 5.0):
        settings = services.settings
        self.broker_url = broker_url or settings.broker_url
        self.namespace = namespace or settings.bus_namespace
        self.interval = interval
        self.factory = services.factory
        self.relay = Relay(services.factory, self.broker_url, self.namespace)
        self.worker = Worker(services, broker_url=self.broker_url, namespace=self.namespace,
                             concurrency=concurrency, reap_interval=reap_interval,
                             poll_interval=min(interval, 0.5), grace_seconds=grace_seconds)
        self.dispatcher = EventDispatcher(services, broker_url=self.broker_url, namespace=self.namespace,
                                          poll_interval=min(interval, 0.5), sweep_interval=reap_interval)
        self.collector = DeadLetterCollector(services.factory, self.broker_url, self.namespace,
                                             poll_interval=min(interval, 0.5))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> "Embedded":
        if self._threads:
            raise RuntimeError("already started")
        self._spawn("connectors-worker", self.worker.run, self._stop)
        self._spawn("connectors-relay", self.relay.run_forever, self._stop, self.interval)
        self._spawn("connectors-dispatcher", self.dispatcher.run, self._stop)
        self._spawn("connectors-dead-letters", self.collector.run, self._stop)
        self._spawn("connectors-scheduler", scheduler_loop, self.factory, self._stop, max(self.interval, 1.0))
        log.info("embedded bus started on %s (namespace %s)", self.broker_url.split("@")[-1], self.namespace)
        return self

    def _spawn(self, name: str, target: Callable[..., None], *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work, give in-flight runs the worker's grace period, join the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("embedded bus: threads still running after %.0fs: %s", timeout, stuck)

    def __enter__(self) -> "Embedded":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
