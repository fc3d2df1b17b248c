"""Opening a kombu connection with the options each transport needs, and naming its errors.

Kept apart from the producer and the consumer so both open connections the same way:
RabbitMQ gets publisher confirms and heartbeats, the in-memory transport a short polling
interval (its default of one second would add a second of latency to every hop).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from kombu import Connection, Producer
from kombu.exceptions import OperationalError

AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})
MEMORY_POLLING_INTERVAL = 0.05


def is_amqp(broker_url: str) -> bool:
    """Whether the URL names a real AMQP broker (RabbitMQ), as opposed to ``memory://``."""
    return urlsplit(broker_url).scheme.lower() in AMQP_SCHEMES


def connect(broker_url: str, *, confirm_publish: bool = False, heartbeat: float = 0,
            connect_timeout: float = 5) -> Connection:
    """A (lazy) connection: confirms and heartbeats on AMQP, fast polling on ``memory://``."""
    if is_amqp(broker_url):
        options = {"confirm_publish": True} if confirm_publish else {}
        return Connection(broker_url, heartbeat=heartbeat, connect_timeout=connect_timeout,
                          transport_options=options)
    return Connection(broker_url, transport_options={"polling_interval": MEMORY_POLLING_INTERVAL})


def errors_of(connection: Connection) -> tuple[type[BaseException], ...]:
    """What losing the broker looks like on this transport: worth a reconnect, not a crash."""
    return (*connection.connection_errors, *connection.channel_errors, OperationalError, OSError)


def release(connection: Connection | None) -> None:
    """Close a connection that may already be broken, without raising."""
    if connection is None:
        return
    try:
        connection.release()
    except Exception:  # noqa: BLE001 - it is being thrown away; a second error says nothing new
        pass


#: what identifies a message, kept on every copy of it
COPIED_PROPERTIES = ("message_id", "type", "correlation_id", "timestamp")


def publish_copy(channel, message, *, exchange, routing_key: str, headers: dict | None = None) -> None:
    """Publish a copy of a received ``message`` (body, content type and encoding, headers or
    ``headers``, identifying properties; persistent) — the one way the bus re-sends what it
    received: republished after a long outage, moved out of a retired queue, or dead-lettered.
    On a connection with ``confirm_publish`` it returns once the broker has confirmed it."""
    properties = {k: message.properties[k] for k in COPIED_PROPERTIES if message.properties.get(k) is not None}
    Producer(channel, exchange=exchange, auto_declare=False).publish(
        message.body, routing_key=routing_key, headers=dict(message.headers or {}) if headers is None else headers,
        content_type=message.content_type or "application/octet-stream",
        content_encoding=message.content_encoding or "binary", delivery_mode=2, retry=False, **properties)
