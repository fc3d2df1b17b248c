"""The message bus (kombu): topology, the outbox relay, the worker, and the embedded mode.

    Relay(factory, broker_url, namespace).run_forever(stop_event)      # outbox -> bus
    Worker(services).run(stop_event)                                    # bus -> executed runs
    EventDispatcher(services).run(stop_event)                           # bus -> event-triggered jobs
    DeadLetterCollector(factory, broker_url, namespace).run(stop_event)  # dead letters -> table
    Embedded(services).start()                                          # all of it, in-process

See docs/bus.md for the topology and the delivery guarantees.
"""
from .dead_letters import DeadLetterCollector, send_to_dead_letters
from .dispatcher import EventDispatcher
from .embedded import Embedded
from .messages import MalformedMessage, RunRequested, parse_command, parse_run_requested
from .relay import Relay
from .topology import Topology
from .transport import connect, is_amqp
from .worker import Worker

__all__ = ["EventDispatcher", "Embedded", "Relay", "Worker", "DeadLetterCollector", "Topology", "connect", "is_amqp",
           "MalformedMessage", "RunRequested", "parse_command", "parse_run_requested", "send_to_dead_letters"]
