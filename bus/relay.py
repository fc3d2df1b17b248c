"""The outbox relay: publish what the database committed, then mark it sent.

Rows are locked, published in id order (each confirmed by RabbitMQ before the next) and
marked sent in the same transaction that locked them. A crash after a publish and before the
commit sends that row again on the next pass: delivery is at-least-once and consumers
deduplicate by message id. On PostgreSQL the lock is ``FOR UPDATE SKIP LOCKED``, so several
relays can run side by side; on SQLite the write lock serialises them.
"""
from __future__ import annotations

import logging
import threading

from kombu import Connection, Producer
from sqlalchemy.orm import Session, sessionmaker

from connectors import outbox
from connectors.db import transaction
from connectors.models import Outbox
from connectors.services import Services

from .topology import Topology
from .transport import connect, is_amqp, release

log = logging.getLogger(__name__)

PERSISTENT = 2
RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


class Relay:
    """Publishes pending outbox rows to the bus; one connection, opened on first use.

    ``Relay(factory, broker_url, namespace)``, or ``Relay(services)`` with the defaults from its settings.
    """

    def __init__(self, factory: "sessionmaker[Session] | Services", broker_url: str | None = None,
                 namespace: str | None = None, batch_size: int = 100, confirm_timeout: float = 10.0):
        if isinstance(factory, Services):
            broker_url = broker_url or factory.settings.broker_url
            namespace = namespace or factory.settings.bus_namespace
            factory = factory.factory
        broker_url, namespace = broker_url or "memory://", namespace or "connectors"
        self.factory, self.broker_url, self.batch_size = factory, broker_url, batch_size
        self.confirm_timeout = confirm_timeout
        self.topology = Topology.for_url(broker_url, namespace)
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    # -- publishing ------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Publish one batch of pending rows; returns how many were sent.

        A row that fails to publish stops the batch (later rows wait, so order holds); the rows
        before it are still marked sent, and the error is raised after that commit.
        """
        sent: list[int] = []
        error: Exception | None = None
        with transaction(self.factory) as session:
            for row in outbox.pending(session, self.batch_size, lock=True):
                try:
                    exchange = self.topology.exchange_for(row.exchange)
                except KeyError:
                    log.error("outbox row %s names no exchange of the bus (%r); left unsent", row.id, row.exchange)
                    row.attempts = (row.attempts or 0) + 1
                    continue
                try:
                    self._publish(row, exchange)
                except Exception as exc:  # noqa: BLE001 - re-raised once the sent rows are marked
                    row.attempts = (row.attempts or 0) + 1
                    error = exc
                    break
                sent.append(row.id)
            outbox.mark_sent(session, sent)
        if error is not None:
            self.close()  # a fresh connection next time
            raise error
        if sent:
            log.debug("relayed %d outbox row(s)", len(sent))
        return len(sent)

    def _publish(self, row: Outbox, exchange) -> None:
        body = outbox.envelope(row)
        self._get_producer().publish(
            body, exchange=exchange, routing_key=row.routing_key, serializer="json",
            delivery_mode=PERSISTENT, message_id=body["id"], type=body["type"],
            retry=True, retry_policy=RETRY_POLICY, confirm_timeout=self.confirm_timeout)

    def _get_producer(self) -> Producer:
        if self._producer is None:
            # No heartbeats: this connection is only ever written to, so nothing would read the
            # broker's; a dead socket shows up as a failed publish or a confirm timeout instead.
            self._connection = connect(self.broker_url, confirm_publish=True, heartbeat=0)
            self._connection.ensure_connection(max_retries=3, interval_start=0.2, interval_step=0.5, interval_max=2)
            channel = self._connection.default_channel
            self.topology.declare(channel)
            self._producer = Producer(self._connection, serializer="json")
            if is_amqp(self.broker_url):
                log.info("relay connected to %s", self._connection.as_uri())
        return self._producer

    # -- lifecycle -------------------------------------------------------------------------------
    def run_forever(self, stop_event: threading.Event, interval: float = 0.5) -> None:
        """Relay until ``stop_event`` is set; a full batch is followed at once by the next one.

        Errors (database or broker) are logged and retried with a growing pause, never fatal.
        """
        backoff = interval
        try:
            while not stop_event.is_set():
                try:
                    sent = self.run_once()
                except Exception:  # noqa: BLE001 - a relay must outlive a broker or database restart
                    log.exception("relay pass failed; retrying in %.1fs", backoff)
                    stop_event.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = interval
                if sent < self.batch_size:
                    stop_event.wait(interval)
        finally:
            self.close()

    def close(self) -> None:
        release(self._connection)
        self._connection = self._producer = None
