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
    assert (t.runs_queue.name, t.runs_queue.routing_key, t.runs_queue.exchange.name) == ("acme.runs.v1", "runs", "acme.commands")
    assert t.dead_queue.name == "acme.dead.v1"
    assert t.exchange_for("commands") is t.commands and t.exchange_for("events") is t.events
    with pytest.raises(KeyError):
        t.exchange_for("dead")


def test_rabbitmq_gets_durable_quorum_queues_with_a_delivery_limit_and_dead_lettering():
    t = Topology.for_url("amqp://guest:guest@127.0.0.1:5672//", "acme")
    runs = t.runs_queue
    assert runs.durable and not runs.auto_delete and not runs.exclusive
    assert runs.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": 5, "x-dead-letter-exchange": "acme.dead"}
    assert t.dead_queue.queue_arguments == {"x-queue-type": "quorum"}
    assert all(e.durable for e in t.exchanges.values())


def test_memory_gets_the_same_names_without_broker_arguments():
    t = Topology.for_url("memory://", "acme")
    assert not is_amqp("memory://") and is_amqp("amqps://h//")
    assert t.runs_queue.name == "acme.runs.v1" and not t.runs_queue.queue_arguments
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


@pytest.mark.parametrize("body, error", [
    ([], "JSON object"),
    ({"id": "x", "type": "run.requested", "version": 1}, "lacks payload"),
    ({"id": "x", "type": "registration.status_changed", "version": 1, "payload": {}}, "unexpected message type"),
    ({"id": "x", "type": "run.requested", "version": 2, "payload": {"run_id": 1, "attempt": 0}}, "version"),
    ({"id": "x", "type": "run.requested", "version": 1, "payload": {"run_id": True, "attempt": 0}}, "run_id"),
    ({"id": "x", "type": "run.requested", "version": 1, "payload": {"run_id": 1, "attempt": -1}}, "attempt"),
])
def test_malformed_run_commands_are_named(body, error):
    with pytest.raises(MalformedMessage, match=error):
        parse_run_requested(body)


def test_a_run_command_is_read():
    command = parse_run_requested({"id": "run_7_1", "type": "run.requested", "version": 1,
                                   "occurred_at": "2026-01-01T00:00:00Z", "payload": {"run_id": 7, "attempt": 1}})
    assert (command.message_id, command.run_id, command.attempt) == ("run_7_1", 7, 1)
