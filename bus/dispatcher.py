"""The event dispatcher: status-change events from the bus to event-triggered jobs.

Event messages are taken in small windows (what has arrived within ``BATCH_WAIT`` of the first,
at most the prefetch count): one transaction plans and claims the ledger rows of the whole window
(one per matching job; a redelivered message plans nothing new, see
``connectors.jobs.delivery_batches``), the messages are acknowledged, and the rows are sent in a
thread pool.
A sweep every few seconds sends rows whose retry time has come and settles rows a dead
dispatcher left half-sent (``connectors.jobs.deliveries``). The database is the source of truth:
a lost message is caught up by ``replay``, a lost process by the sweep.

Failures: each message is read with the envelope schema as it arrives, and one that does not fit
is dead-lettered alone. When planning a window fails because the database is away
(``connectors.db.unavailable``), the window is held unacknowledged until a retry succeeds
(``holding``; the prefetch count bounds how many more arrive meanwhile): an outage never counts
toward the delivery limit. When it fails for any other reason, each event of the window is
planned alone, so only an event that fails by itself is dead-lettered, with the reason, and its
neighbours are delivered.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from kombu import Consumer
from kombu.message import Message

from connectors import db
from connectors.jobs import deliveries
from connectors.jobs.delivery_batches import ClaimedDelivery, plan_and_claim
from connectors.jobs.delivery_leases import leases

from .dead_letters import send_to_dead_letters
from .holding import Holding, republish_all
from .messages import MalformedMessage, parse_status_event
from .topology import Topology
from .transport import connect, errors_of, release
from .worker import default_worker_name

if TYPE_CHECKING:  # pragma: no cover
    from connectors.services import Services

log = logging.getLogger(__name__)
PREFETCH = 50  # the largest window planned in one transaction; sending happens after the ack, in the pool
BATCH_WAIT = 0.05  # how long the first message of a window waits for others (seconds)


class EventDispatcher:
    def __init__(self, services: "Services", *, broker_url: str | None = None, namespace: str | None = None,
                 concurrency: int = 8, lease_seconds: int | None = None, poll_interval: float = 0.2, sweep_interval: float = 5.0,
                 heartbeat: float = 30, name: str | None = None, holding: Holding | None = None):
        settings = services.settings
        self.factory, self.registry, self.box = services.factory, services.registry, services.box
        self.broker_url = broker_url or settings.broker_url
        self.topology = Topology.for_url(self.broker_url, namespace or settings.bus_namespace)
        #: a delivery's lease (renewed a third of the way through while it is sent): CONNECTORS_LEASE_SECONDS
        self.lease_seconds = lease_seconds or settings.lease_seconds
        self.poll_interval, self.sweep_interval = poll_interval, sweep_interval
        self.heartbeat, self.name = heartbeat, name or default_worker_name()
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="delivery")
        self.max_in_flight = concurrency * 4
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._window: list[tuple[str, Message]] = []
        self._holding = holding if holding is not None else Holding()  # a window whose planning waits for the database
        self._window_started = 0.0
        self._next_sweep = 0.0
        self.connected = threading.Event()

    def run(self, stop_event: threading.Event | None = None) -> None:
        if stop_event is not None:
            self._stop = stop_event
        log.info("event dispatcher %s on %s", self.name, self.topology.status_events_queue.name)
        backoff = 1.0
        while not self._stop.is_set():
            connection = connect(self.broker_url, heartbeat=self.heartbeat, confirm_publish=True)
            try:
                connection.ensure_connection(max_retries=3, interval_start=0.5, interval_step=0.5, interval_max=2)
                backoff = 1.0
                self._serve(connection)
            except errors_of(connection) as exc:
                log.warning("dispatcher %s: bus connection lost (%s); reconnecting", self.name, exc)
            except Exception:  # noqa: BLE001 - the dispatcher must outlive its own bugs
                log.exception("dispatcher %s: loop failed; restarting", self.name)
            finally:
                self.connected.clear()
                self._window = []  # unacknowledged: the broker delivers them again
                self._holding.take()
                release(connection)
            if not self._stop.is_set():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        self._stop.set()

    def _serve(self, connection) -> None:
        channel = connection.channel()
        self.topology.declare(channel)
        consumer = Consumer(channel, queues=[self.topology.status_events_queue], on_message=self._on_message,
                            accept=["json"], auto_declare=False)
        consumer.qos(prefetch_count=PREFETCH)  # also what bounds the events held through an outage
        consumer.consume()
        self.connected.set()
        while not self._stop.is_set():
            self._sweep_when_due()
            if self._holding.overdue():
                republish_all(channel, self._holding.take(), f"dispatcher {self.name}")
                self._holding.clear()
            elif self._holding.due():
                self._plan(self._holding.take())
            if self._busy():  # every sender is taken and more are queued: leave new events with the broker
                self._stop.wait(0.005)
                connection.heartbeat_check()
                continue
            waited = time.monotonic() - self._window_started
            timeout = max(BATCH_WAIT - waited, 0.001) if self._window else self.poll_interval
            try:
                connection.drain_events(timeout=timeout)
            except socket.timeout:
                pass
            if self._window and (len(self._window) >= PREFETCH
                                 or time.monotonic() - self._window_started >= BATCH_WAIT):
                window, self._window = self._window, []
                if self._holding:  # the prefetch count bounds how many arrive while others wait
                    self._holding.messages.extend(message for _, message in window)
                else:
                    self._plan([message for _, message in window])
            connection.heartbeat_check()

    def _busy(self) -> bool:
        with self._lock:
            return len(self._in_flight) >= self.max_in_flight

    def _on_message(self, message: Message) -> None:
        try:
            event_id = parse_status_event(message.decode())
        except Exception as exc:  # noqa: BLE001 - not an event we can read: it alone goes to the dead letters
            reason = exc if isinstance(exc, MalformedMessage) else f"{type(exc).__name__}: {exc}"
            self._dead_letter(message, f"malformed: {reason}")
            return
        if not self._window:
            self._window_started = time.monotonic()
        self._window.append((event_id, message))

    def _dead_letter(self, message: Message, reason: str) -> None:
        log.error("dispatcher %s: message %s dead-lettered: %s", self.name, message.properties.get("message_id"),
                  reason)
        send_to_dead_letters(message.channel, self.topology, message, reason=reason, queue=self.topology.status_events_queue.name)

    def _plan(self, messages: list[Message]) -> None:
        """Plan and claim the events of ``messages`` in one transaction, ack them, send the claims.
        On an outage the messages are held; on any other failure each is planned alone."""
        ids = [parse_status_event(message.decode()) for message in messages]
        try:
            claims = plan_and_claim(self.factory, self.registry, ids, self.name, self.lease_seconds)
        except Exception as exc:  # noqa: BLE001
            if db.unavailable(exc):
                self._hold(messages, exc)
            elif len(messages) == 1:
                self._dead_letter(messages[0], f"planning event {ids[0]} failed: {type(exc).__name__}: {exc}")
            else:
                log.warning("dispatcher %s: planning %d events failed (%s); planning each alone", self.name,
                            len(messages), exc)
                for index, message in enumerate(messages):
                    if self._holding:  # the database went away meanwhile: the rest wait too
                        self._holding.messages.extend(messages[index:])
                        return
                    self._plan([message])
            return
        self._holding.clear()
        for message in messages:
            message.ack()
        for claim in claims:
            self._send(claim.delivery_id, claim=claim)

    def _hold(self, messages: list[Message], exc: Exception) -> None:
        self._holding.hold(messages)
        log.warning("dispatcher %s: the database is unavailable (%s); %d event(s) wait, retry in %.1fs", self.name,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__, len(self._holding.messages),
                    self._holding.backoff)

    def _send(self, delivery_id: int, verify: bool = False, claim: ClaimedDelivery | None = None) -> None:
        with self._lock:
            if delivery_id in self._in_flight:
                return
            self._in_flight.add(delivery_id)
        if claim is not None:  # held (its lease renewed) from now on, also while it waits for a sender
            leases.hold(self.factory, delivery_id, self.name, self.lease_seconds)

        def work() -> None:
            try:
                if verify:  # asking the target may take minutes: never in the consuming thread
                    deliveries.verify(self.factory, self.registry, self.box, delivery_id)
                elif claim is not None:  # claimed when planned
                    deliveries.send(self.factory, self.registry, self.box, claim, self.name, self.lease_seconds)
                else:
                    deliveries.deliver(self.factory, self.registry, self.box, delivery_id, self.name,
                                       self.lease_seconds)
            except Exception:  # noqa: BLE001
                log.exception("dispatcher %s: delivery %s failed", self.name, delivery_id)
            finally:
                if claim is not None:
                    leases.release(self.factory, delivery_id, self.name, self.lease_seconds)
                with self._lock:
                    self._in_flight.discard(delivery_id)

        self.pool.submit(work)

    def _sweep_when_due(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_interval
        try:
            for delivery_id in deliveries.to_verify(self.factory):
                self._send(delivery_id, verify=True)
            for delivery_id in deliveries.due(self.factory):
                self._send(delivery_id)
        except Exception:  # noqa: BLE001 - the next sweep tries again
            log.exception("dispatcher %s: sweep failed", self.name)
