"""The outbox relay: publish what the database committed, then mark it sent.

Rows are locked, published in id order and marked sent in the same transaction that locked
them. On RabbitMQ a batch is published in one AMQP transaction on the channel: the broker takes
all of its messages or none, and its commit is one round trip (and one disk sync for persistent
messages) instead of one confirm per message — per-message confirms capped the relay at a few
dozen events a second on a loaded machine. A batch that fails is published again whole on the
next pass. A crash after the broker's commit and before the database's sends the batch again:
delivery is at-least-once and consumers deduplicate by message id. On PostgreSQL the lock is ``FOR UPDATE SKIP LOCKED``, so several
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

from .topology import Topology, drain_retired
from .transport import connect, is_amqp, release

log = logging.getLogger(__name__)

PERSISTENT = 2
POLL_INTERVAL = 0.05  # seconds between looks at an empty outbox: part of every event's latency
RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


class Relay:
    """Publishes pending outbox rows to the bus; one connection, opened on first use.

    ``Relay(factory, broker_url, namespace)``, or ``Relay(services)`` with the defaults from its settings.
    """

    def __init__(self, factory: "sessionmaker[Session] | Services", broker_url: str | None = None,
                 namespace: str | None = None, batch_size: int = 100):
        if isinstance(factory, Services):
            broker_url = broker_url or factory.settings.broker_url
            namespace = namespace or factory.settings.bus_namespace
            factory = factory.factory
        broker_url, namespace = broker_url or "memory://", namespace or "connectors"
        self.factory, self.broker_url, self.batch_size = factory, broker_url, batch_size
        self.topology = Topology.for_url(broker_url, namespace)
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._drained = False

    # -- publishing ------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Publish one batch of pending rows; returns how many were sent.

        The batch is all or nothing: when a row fails to publish (or the broker's commit fails),
        no row of it is marked sent, the error is raised, and the next pass publishes them again.
        """
        sent: list[int] = []
        if not self._anything_pending():
            return 0
        with transaction(self.factory) as session:
            rows = outbox.pending(session, self.batch_size, lock=True)
            if not rows:
                return 0
            try:
                for row in rows:
                    try:
                        exchange = self.topology.exchange_for(row.exchange)
                    except KeyError:
                        log.error("outbox row %s names no exchange of the bus (%r); left unsent", row.id, row.exchange)
                        row.attempts = (row.attempts or 0) + 1
                        continue
                    self._publish(row, exchange)
                    sent.append(row.id)
                self._commit_batch()
            except Exception:
                self.close()  # a fresh connection (and channel transaction) next time
                raise
            outbox.mark_sent(session, sent)
        if sent:
            log.debug("relayed %d outbox row(s)", len(sent))
        return len(sent)

    def _anything_pending(self) -> bool:
        """A look that takes no lock (on SQLite, no write lock): an idle relay polls often."""
        with self.factory() as session:
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            return bool(outbox.pending(session, 1))

    def _publish(self, row: Outbox, exchange) -> None:
        body = outbox.envelope(row)
        transactional = is_amqp(self.broker_url)
        self._get_producer().publish(
            body, exchange=exchange, routing_key=row.routing_key, serializer="json",
            delivery_mode=PERSISTENT, message_id=body["id"], type=body["type"],
            # inside a channel transaction a reconnect would publish outside it: fail the batch instead
            retry=not transactional, retry_policy=RETRY_POLICY)

    def _commit_batch(self) -> None:
        if self._producer is not None and is_amqp(self.broker_url):
            self._producer.channel.tx_commit()

    def _get_producer(self) -> Producer:
        if self._producer is None:
            # No heartbeats: this connection is only ever written to, so nothing would read the
            # broker's; a dead socket shows up as a failed publish or commit instead.
            self._connection = connect(self.broker_url, heartbeat=0)
            self._connection.ensure_connection(max_retries=3, interval_start=0.2, interval_step=0.5, interval_max=2)
            channel = self._connection.default_channel
            self.topology.declare(channel)
            if is_amqp(self.broker_url):
                channel.tx_select()
                log.info("relay connected to %s", self._connection.as_uri())
                self._drain_retired_queues()
            self._producer = Producer(channel, serializer="json")
        return self._producer

    def _drain_retired_queues(self) -> None:
        """Once per process: what older versions of the queues still hold moves to the current
        ones (an upgrade loses no queued command or event)."""
        if self._drained:
            return
        connection = connect(self.broker_url, confirm_publish=True)
        try:
            moved = drain_retired(connection, self.topology)
        finally:
            release(connection)
        self._drained = True
        if moved:
            log.warning("relay: moved %d message(s) from retired queue versions to the current ones", moved)

    # -- lifecycle -------------------------------------------------------------------------------
    def run_forever(self, stop_event: threading.Event, interval: float = POLL_INTERVAL) -> None:
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
