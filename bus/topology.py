"""Exchanges and queues of the bus (ARCHITECTURE §5), named from one namespace.

Queue names carry a version (``runs.v1``): RabbitMQ refuses to redeclare a queue with other
arguments, so changing an argument means a new version, declared beside the old one, which is
drained and then deleted. Exchanges have no arguments and keep plain names.

On RabbitMQ queues are durable quorum queues with a delivery limit (a message that keeps
killing its consumer is dead-lettered instead of looping forever) and a dead-letter exchange,
dead-lettering at least once (``x-dead-letter-strategy: at-least-once``, which RabbitMQ allows
only with ``x-overflow: reject-publish``): the broker keeps a message until the dead-letter queue
has confirmed it, so a message on its way to the dead letters is never lost. On ``memory://``
the same names are declared without broker-specific arguments.

The previous versions of a queue are listed in ``RETIRED``; ``drain_retired`` moves what is left
in them to the current version and deletes them (the relay does it when it starts).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kombu import Exchange, Queue

from .transport import is_amqp, publish_copy

RUNS_ROUTING_KEY = "runs"
RUNS_QUEUE_VERSION = 2  # v2: at-least-once dead-lettering
STATUS_EVENTS_QUEUE_VERSION = 2  # v2: at-least-once dead-lettering
DEAD_QUEUE_VERSION = 1
#: Queue versions replaced by the ones above: (name suffix, exchange, binding key).
RETIRED = (("runs.v1", "commands", RUNS_ROUTING_KEY), ("status-events.v1", "events", "#"))
#: Deliveries of one command before RabbitMQ dead-letters it. A command is acked within
#: milliseconds of its claim, so only a message that crashes workers ever gets near this.
DELIVERY_LIMIT = 5


@dataclass(frozen=True)
class Topology:
    """Every entity of one namespace; ``quorum`` is True on RabbitMQ."""

    namespace: str = "connectors"
    quorum: bool = False
    delivery_limit: int = DELIVERY_LIMIT
    exchanges: dict[str, Exchange] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ns = self.namespace
        exchanges = {
            "commands": Exchange(f"{ns}.commands", "direct", durable=True, delivery_mode="persistent"),
            "events": Exchange(f"{ns}.events", "topic", durable=True, delivery_mode="persistent"),
            "dead": Exchange(f"{ns}.dead", "fanout", durable=True, delivery_mode="persistent"),
        }
        object.__setattr__(self, "exchanges", exchanges)

    @classmethod
    def for_url(cls, broker_url: str, namespace: str = "connectors") -> "Topology":
        return cls(namespace=namespace, quorum=is_amqp(broker_url))

    # -- entities ------------------------------------------------------------------------------
    @property
    def commands(self) -> Exchange:
        return self.exchanges["commands"]

    @property
    def events(self) -> Exchange:
        return self.exchanges["events"]

    @property
    def dead(self) -> Exchange:
        return self.exchanges["dead"]

    def _work_queue_arguments(self) -> dict:
        if not self.quorum:
            return {}
        return {"x-queue-type": "quorum", "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": self.dead.name, "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish"}

    @property
    def runs_queue(self) -> Queue:
        """Run commands ("run.requested", "plugin.task.requested"), consumed by workers."""
        return Queue(f"{self.namespace}.runs.v{RUNS_QUEUE_VERSION}", self.commands, routing_key=RUNS_ROUTING_KEY,
                     durable=True, queue_arguments=self._work_queue_arguments())

    @property
    def status_events_queue(self) -> Queue:
        """Every status-change event ("#" on the topic exchange), consumed by event dispatchers."""
        return Queue(f"{self.namespace}.status-events.v{STATUS_EVENTS_QUEUE_VERSION}", self.events, routing_key="#",
                     durable=True, queue_arguments=self._work_queue_arguments())

    def retired_queues(self) -> list[tuple[str, Exchange, str]]:
        """``(queue name, its exchange, binding key)`` of every retired queue version."""
        return [(f"{self.namespace}.{suffix}", self.exchanges[exchange], key) for suffix, exchange, key in RETIRED]

    @property
    def dead_queue(self) -> Queue:
        """Messages rejected as malformed or past the delivery limit, kept for a human to read."""
        args = {"x-queue-type": "quorum"} if self.quorum else {}
        return Queue(f"{self.namespace}.dead.v{DEAD_QUEUE_VERSION}", self.dead, routing_key="",
                     durable=True, queue_arguments=args)

    @property
    def queues(self) -> tuple[Queue, ...]:
        return (self.runs_queue, self.status_events_queue, self.dead_queue)

    def exchange_for(self, name: str) -> Exchange:
        """The exchange an outbox row names ("commands" or "events"); KeyError for any other."""
        if name == "dead":  # producers never publish there; only the broker dead-letters
            raise KeyError(name)
        return self.exchanges[name]

    # -- declaring -------------------------------------------------------------------------------
    def declare(self, channel) -> None:
        """Declare every exchange, queue and binding (idempotent): producers and consumers both
        do it, so a command published before any worker started is routed, not dropped."""
        for exchange in self.exchanges.values():
            exchange(channel).declare()
        for queue in self.queues:
            queue(channel).declare()

    def delete(self, channel) -> None:
        """Delete this namespace's queues and exchanges (tests and decommissioning only)."""
        for queue in self.queues:
            try:
                queue(channel).delete()
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
        for exchange in self.exchanges.values():
            try:
                exchange(channel).delete()
            except Exception:  # noqa: BLE001
                pass



def drain_retired(connection, topology: Topology) -> int:
    """Move the messages left in retired queue versions to the current ones, then delete the
    retired queues; returns how many were moved. A retired queue is unbound first (else what is
    moved would be routed back into it too); each message is then published (confirmed: the
    connection must have ``confirm_publish``) before it is acked, so none is lost, and a crash in
    between sends one twice, which consumers deduplicate."""
    moved = 0
    for name, exchange, binding_key in topology.retired_queues():
        probe = connection.channel()
        try:
            waiting = probe.queue_declare(queue=name, passive=True).message_count
        except connection.channel_errors:  # NOT_FOUND: never existed, or drained already
            continue
        finally:
            _close_quietly(probe)
        channel = connection.channel()
        try:
            queue = Queue(name, exchange, routing_key=binding_key, no_declare=True)(channel)
            queue.unbind_from(exchange, routing_key=binding_key)
            for _ in range(waiting):
                message = queue.get(no_ack=False)
                if message is None:
                    break
                publish_copy(channel, message, exchange=exchange,
                             routing_key=message.delivery_info.get("routing_key") or binding_key)
                message.ack()
                moved += 1
            queue.delete()
        finally:
            _close_quietly(channel)
    return moved


def _close_quietly(channel) -> None:
    try:
        channel.close()
    except Exception:  # noqa: BLE001 - a channel the broker closed (NOT_FOUND) is closed already
        pass
