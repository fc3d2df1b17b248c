"""Exchanges and queues of the bus (ARCHITECTURE §5), named from one namespace.

Queue names carry a version (``runs.v1``): RabbitMQ refuses to redeclare a queue with other
arguments, so changing an argument means a new version, declared beside the old one, which is
drained and then deleted. Exchanges have no arguments and keep plain names.

On RabbitMQ queues are durable quorum queues with a delivery limit (a message that keeps
killing its consumer is dead-lettered instead of looping forever) and a dead-letter exchange;
on ``memory://`` the same names are declared without broker-specific arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kombu import Exchange, Queue

from .transport import is_amqp

RUNS_ROUTING_KEY = "runs"
RUNS_QUEUE_VERSION = 1
STATUS_EVENTS_QUEUE_VERSION = 1
DEAD_QUEUE_VERSION = 1
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

    @property
    def runs_queue(self) -> Queue:
        """Run commands ("run.requested"), consumed by workers."""
        args = {}
        if self.quorum:
            args = {"x-queue-type": "quorum", "x-delivery-limit": self.delivery_limit,
                    "x-dead-letter-exchange": self.dead.name}
        return Queue(f"{self.namespace}.runs.v{RUNS_QUEUE_VERSION}", self.commands, routing_key=RUNS_ROUTING_KEY,
                     durable=True, queue_arguments=args)

    @property
    def status_events_queue(self) -> Queue:
        """Every status-change event ("#" on the topic exchange), consumed by event dispatchers."""
        args = {}
        if self.quorum:
            args = {"x-queue-type": "quorum", "x-delivery-limit": self.delivery_limit,
                    "x-dead-letter-exchange": self.dead.name}
        return Queue(f"{self.namespace}.status-events.v{STATUS_EVENTS_QUEUE_VERSION}", self.events, routing_key="#",
                     durable=True, queue_arguments=args)

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
