"""Dead letters: sending a message there on purpose, and collecting what lands there.

``send_to_dead_letters`` is what a consumer calls instead of ``message.reject(requeue=False)``
when it gives up on a message (malformed, say). It publishes a copy of the message to the dead
exchange with headers that say why, from which queue, when, and where it was first sent
(``x-connectors-reason``, ``-queue``, ``-died-at``, ``-exchange``, ``-routing-key``), waits for
the broker's confirm, and only then acks the original: the message is never in neither place.
When the copy cannot be published it falls back to ``reject(requeue=False)``; RabbitMQ then
dead-letters the original itself, with its ``x-death`` headers (reason "rejected"). On
``memory://``, which dead-letters nothing on its own, the copy is the only way there.

``DeadLetterCollector`` consumes the dead-letter queue and records each message in the database
(``connectors.dead_letters.record``), acking only after the commit. While the database is
unreachable it stops consuming and holds what it has unacked, retrying with a growing pause: a
dead letter is never lost, at worst recorded once more after a crash (``record`` is idempotent
by message id and time of death).
"""
from __future__ import annotations

import logging
import socket
import threading
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from kombu import Consumer, Producer
from kombu.message import Message
from sqlalchemy.exc import IntegrityError

from connectors import dead_letters
from connectors.db import transaction

from .topology import Topology
from .transport import COPIED_PROPERTIES, connect, errors_of, publish_copy, release

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session, sessionmaker

    from connectors.services import Services

log = logging.getLogger(__name__)

REASON, QUEUE, DIED_AT = "x-connectors-reason", "x-connectors-queue", "x-connectors-died-at"
EXCHANGE, ROUTING_KEY = "x-connectors-exchange", "x-connectors-routing-key"
CONFIRM_TIMEOUT = 5.0  # seconds to wait for the broker to take the copy before falling back to reject
PERSISTENT = 2
PREFETCH = 20


# -- sending -----------------------------------------------------------------------------------------
def send_to_dead_letters(channel_or_producer: Any, topology: Topology, message: Message, *, reason: str,
                         queue: str) -> bool:
    """Move ``message`` (delivered on ``channel_or_producer``'s channel, from ``queue``) to the
    dead-letter queue with ``reason``; True when the copy went, False when it fell back to reject.

    Contract for consumers: call it from the thread that owns the channel, in place of
    ``message.reject(requeue=False)``; afterwards the message is settled (acked or rejected),
    and the caller must not ack or reject it again. Errors of the fallback reject (the
    connection is gone) propagate, like a failed reject would: the broker redelivers.
    """
    channel = channel_or_producer.channel if isinstance(channel_or_producer, Producer) else channel_or_producer
    try:
        _publish_copy(channel, topology, message, dead_letter_headers(message, reason=reason, queue=queue))
    except Exception as exc:  # noqa: BLE001 - any failure: let the broker dead-letter the original
        log.warning("could not copy message %s to %s (%s); rejecting it for the broker to dead-letter",
                    message.properties.get("message_id"), topology.dead.name, exc)
        message.reject(requeue=False)
        return False
    message.ack()
    return True


def dead_letter_headers(message: Message, *, reason: str, queue: str) -> dict[str, Any]:
    info = message.delivery_info or {}
    return {**(message.headers or {}), REASON: str(reason)[:2000], QUEUE: queue,
            DIED_AT: datetime.now(timezone.utc).isoformat(), EXCHANGE: info.get("exchange") or "",
            ROUTING_KEY: info.get("routing_key") or ""}


def _publish_copy(channel, topology: Topology, message: Message, headers: dict[str, Any]) -> None:
    properties = {k: message.properties[k] for k in COPIED_PROPERTIES if message.properties.get(k) is not None}
    body, content_type = message.body, message.content_type or "application/octet-stream"
    if hasattr(channel, "basic_publish_confirm"):  # RabbitMQ: a channel of its own, in confirm mode
        publisher = channel.connection.channel()
        try:
            topology.dead_queue(publisher).declare()  # exchange, queue, binding: the copy cannot go nowhere
            amqp_message = publisher.prepare_message(body, None, content_type, message.content_encoding, headers,
                                                     {**properties, "delivery_mode": PERSISTENT})
            publisher.basic_publish_confirm(amqp_message, exchange=topology.dead.name, routing_key="",
                                            confirm_timeout=CONFIRM_TIMEOUT)
        finally:
            publisher.close()
        return
    topology.dead_queue(channel).declare()
    publish_copy(channel, message, exchange=topology.dead, routing_key="", headers=headers)


# -- reading what died --------------------------------------------------------------------------------
def describe(message: Message) -> dict[str, Any]:
    """What ``connectors.dead_letters.record`` takes, read from a dead-lettered message: our
    ``x-connectors-*`` headers when a consumer sent it, else RabbitMQ's ``x-death``."""
    headers = message.headers or {}
    props = message.properties
    common = {"message_id": _text(props.get("message_id")), "message_type": _text(props.get("type")),
              "headers": headers}
    if REASON in headers:
        return {**common, "reason": _text(headers[REASON]), "queue": _text(headers.get(QUEUE)),
                "died_at": _when(headers.get(DIED_AT)), "exchange": _text(headers.get(EXCHANGE)) or None,
                "routing_key": _text(headers.get(ROUTING_KEY))}
    death = _first_death(headers)
    keys = death.get("routing-keys") or [None]
    return {**common, "reason": _text(headers.get("x-first-death-reason") or death.get("reason")) or "unknown",
            "queue": _text(headers.get("x-first-death-queue") or death.get("queue")),
            "exchange": _text(headers.get("x-first-death-exchange") or death.get("exchange")) or None,
            "routing_key": _text(keys[0]), "died_at": _when(death.get("time"))}


def _first_death(headers: dict[str, Any]) -> dict[str, Any]:
    """The ``x-death`` entry of the first death (the list is newest first)."""
    deaths = [d for d in headers.get("x-death") or [] if isinstance(d, dict)]
    first_queue = _text(headers.get("x-first-death-queue"))
    matching = [d for d in deaths if _text(d.get("queue")) == first_queue]
    return (matching or deaths or [{}])[-1]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# -- collecting -----------------------------------------------------------------------------------------
class DeadLetterCollector:
    """Drains the dead-letter queue into the ``dead_letters`` table until stopped.

    ``factory`` is read on every attempt, so a test may point it elsewhere while it runs.
    """

    def __init__(self, factory: "sessionmaker[Session]", broker_url: str = "memory://",
                 namespace: str = "connectors", *, poll_interval: float = 0.5, heartbeat: float = 30,
                 retry_initial: float = 0.5, retry_max: float = 30.0):
        self.factory, self.broker_url = factory, broker_url
        self.topology = Topology.for_url(broker_url, namespace)
        self.poll_interval, self.heartbeat = poll_interval, heartbeat
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.failures = 0  # attempts to record that failed (the database was down): tests and health
        self.connected = threading.Event()
        self._inbox: deque[Message] = deque()
        self._stop = threading.Event()

    @classmethod
    def from_services(cls, services: "Services", **options) -> "DeadLetterCollector":
        settings = services.settings
        return cls(services.factory, settings.broker_url, settings.bus_namespace, **options)

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Collect until ``stop_event`` (or ``stop()``) is set, reconnecting when the bus is lost."""
        if stop_event is not None:
            self._stop = stop_event
        backoff = 1.0
        while not self._stop.is_set():
            connection = connect(self.broker_url, heartbeat=self.heartbeat)
            try:
                connection.ensure_connection(max_retries=3, interval_start=0.5, interval_step=0.5, interval_max=2)
                backoff = 1.0
                self._serve(connection)
            except errors_of(connection) as exc:
                log.warning("dead-letter collector: bus connection lost (%s); reconnecting", exc)
            except Exception:  # noqa: BLE001 - the collector must outlive its own bugs
                log.exception("dead-letter collector: loop failed; restarting")
            finally:
                self.connected.clear()
                self._inbox.clear()  # unacked: the broker delivers them again
                release(connection)
            if not self._stop.is_set():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        self._stop.set()

    def _serve(self, connection) -> None:
        channel = connection.channel()
        self.topology.declare(channel)
        consumer = Consumer(channel, queues=[self.topology.dead_queue], on_message=self._inbox.append,
                            auto_declare=False)
        consumer.qos(prefetch_count=PREFETCH)
        consumer.consume()
        consuming, pause = True, self.retry_initial
        self.connected.set()
        while not self._stop.is_set():
            self._drain(connection, self.poll_interval)
            if self._record_inbox():
                pause = self.retry_initial
                if not consuming:
                    consumer.consume()
                    consuming = True
                continue
            if consuming:  # take no more while the database is away; what is held stays unacked
                consumer.cancel()
                consuming = False
            self._drain(connection, pause)
            pause = min(pause * 2, self.retry_max)

    def _drain(self, connection, seconds: float) -> None:
        """Wait up to ``seconds`` for deliveries, reading the connection (and so its heartbeats)."""
        try:
            connection.drain_events(timeout=seconds)
        except socket.timeout:
            pass
        connection.heartbeat_check()

    def _record_inbox(self) -> bool:
        """Record and ack the held messages in order; False (the rest held) when one fails."""
        while self._inbox:
            message = self._inbox[0]
            try:
                self._record(message)
            except Exception as exc:  # noqa: BLE001 - most likely the database: hold it and try again later
                self.failures += 1
                log.warning("dead-letter collector: cannot record a dead letter (%s); holding %d unacked and "
                            "retrying", str(exc).splitlines()[0] if str(exc) else type(exc).__name__, len(self._inbox))
                return False
            self._inbox.popleft()
            message.ack()
        return True

    def _record(self, message: Message) -> None:
        details = describe(message)
        try:
            with transaction(self.factory) as session:
                dead_letters.record(session, body=message.body, **details)
        except IntegrityError:  # another collector recorded the same one between our look and our insert
            log.info("dead letter %s already recorded", details["message_id"])
