"""Names and arguments of the bus entities; redeclaring is harmless."""
from __future__ import annotations

import pytest
from kombu import Connection

from connectors.bus import Topology, connect, is_amqp
from connectors.bus.messages import MalformedMessage, parse_run_requested


def test_names_follow_the_namespace_and_carry_versions():
    t = Topology("acme", quorum=True)
    assert (t.commands.name, t.commands.type) == ("acme.commands", "direct")
    assert (t.events.name, t.events.type) == ("acme.events", "topic")
    assert (t.dead.name, t.dead.type) == ("acme.dead", "fanout")
    assert (t.runs_queue.name, t.runs_queue.routing_key, t.runs_queue.exchange.name) == ("acme.runs.v2", "runs", "acme.commands")
    assert t.dead_queue.name == "acme.dead.v1"
    assert t.exchange_for("commands") is t.commands and t.exchange_for("events") is t.events
    with pytest.raises(KeyError):
        t.exchange_for("dead")


def test_rabbitmq_gets_durable_quorum_queues_with_a_delivery_limit_and_dead_lettering():
    t = Topology.for_url("amqp://guest:guest@127.0.0.1:5672//", "acme")
    runs = t.runs_queue
    assert runs.durable and not runs.auto_delete and not runs.exclusive
    assert runs.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": 5, "x-dead-letter-exchange": "acme.dead",
                                    "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    assert t.status_events_queue.queue_arguments == runs.queue_arguments
    assert t.dead_queue.queue_arguments == {"x-queue-type": "quorum"}
    assert all(e.durable for e in t.exchanges.values())


def test_memory_gets_the_same_names_without_broker_arguments():
    t = Topology.for_url("memory://", "acme")
    assert not is_amqp("memory://") and is_amqp("amqps://h//")
    assert t.runs_queue.name == "acme.runs.v2" and not t.runs_queue.queue_arguments
    assert not t.dead_queue.queue_arguments


def test_declaring_twice_is_harmless(broker_url, namespace):
    topology = Topology.for_url(broker_url, namespace)
    conn: Connection = connect(broker_url)
    try:
        topology.declare(conn.default_channel)
        topology.declare(conn.channel())
        assert topology.runs_queue(conn.default_channel).queue_declare(passive=True).message_count == 0
    finally:
        conn.release()


AT = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("body, error", [
    ([], "JSON object"),
    ({"id": "x", "type": "run.requested", "version": 1, "occurred_at": AT}, "payload: Missing data"),
    ({"id": "x", "type": "registration.status_changed", "version": 1, "occurred_at": AT, "payload": {}},
     "does not belong on this queue"),
    ({"id": "x", "type": "run.requested", "version": 2, "occurred_at": AT, "payload": {"run_id": 1, "attempt": 0}},
     "version"),
    ({"id": "x", "type": "run.requested", "version": 1, "occurred_at": AT, "payload": {"run_id": True, "attempt": 0}},
     "payload.run_id: Not a valid integer"),
    ({"id": "x", "type": "run.requested", "version": 1, "occurred_at": AT, "payload": {"run_id": 2**40, "attempt": 0}},
     "payload.run_id: Must be greater than or equal to 1 and less than or equal to 2147483647"),
    ({"id": "x", "type": "run.requested", "version": 1, "occurred_at": AT, "payload": {"run_id": 1, "attempt": -1}},
     "payload.attempt"),
    ({"id": 7, "type": "run.requested", "version": 1, "occurred_at": AT, "payload": {"run_id": 1, "attempt": 0}},
     "id: Not a valid string"),
    ({"id": "x", "type": "run.requested", "version": 1, "occurred_at": AT, "payload": {"run_id": 1, "attempt": 0,
                                                                                     "extra": 1}},
     "payload.extra: Unknown field"),
])
def test_malformed_run_commands_are_named(body, error):
    with pytest.raises(MalformedMessage, match=error):
        parse_run_requested(body)


def test_a_run_command_is_read():
    command = parse_run_requested({"id": "run_7_1", "type": "run.requested", "version": 1,
                                   "occurred_at": "2026-01-01T00:00:00Z", "payload": {"run_id": 7, "attempt": 1}})
    assert (command.message_id, command.run_id, command.attempt) == ("run_7_1", 7, 1)


def test_an_upgrade_moves_what_the_retired_queue_versions_hold(rabbitmq_url, amqp_namespace):
    """runs.v1 and status-events.v1 (dead-lettering at most once) gave way to v2; what an older
    release left queued in them is moved over by the relay, not lost."""
    from kombu import Producer, Queue

    from connectors.bus.topology import drain_retired

    topology = Topology.for_url(rabbitmq_url, amqp_namespace)
    conn = connect(rabbitmq_url, confirm_publish=True)
    try:
        channel = conn.channel()
        topology.commands(channel).declare()
        old_runs = Queue(f"{amqp_namespace}.runs.v1", topology.commands, routing_key="runs", durable=True,
                         queue_arguments={"x-queue-type": "quorum", "x-delivery-limit": 5})
        old_runs(channel).declare()  # the older release's queue, holding a command
        Producer(channel).publish({"id": "run_1_0"}, exchange=topology.commands, routing_key="runs",
                                  serializer="json", message_id="run_1_0")
        topology.declare(channel)  # the new release starts
        assert drain_retired(conn, topology) == 1
        assert topology.runs_queue(channel).queue_declare(passive=True).message_count == 1
        assert drain_retired(conn, topology) == 0  # deleted once empty
    finally:
        conn.release()
