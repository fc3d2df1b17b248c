"""Dead letters on the real RabbitMQ: what a consumer sends there and what the broker
dead-letters itself both become rows with their reasons; while the database is away the
collector holds them unacked, and records them once it is back."""
from __future__ import annotations

import json

import pytest
from kombu import Producer
from sqlalchemy import select

from connectors.bus import Topology, connect
from connectors.bus.dead_letters import DeadLetterCollector, send_to_dead_letters
from connectors.db import make_engine, session_factory
from connectors.models import DeadLetter

from .support import in_thread, wait_for

def publish_command(url: str, topology: Topology, message_id: str, payload: dict) -> None:
    conn = connect(url)
    try:
        channel = conn.default_channel
        topology.declare(channel)
        body = {"id": message_id, "type": "run.requested", "version": 1, "occurred_at": "2026-12-08T10:00:00Z",
                "payload": payload}
        Producer(channel).publish(body, exchange=topology.commands, routing_key="runs", serializer="json",
                                  message_id=message_id, type="run.requested", delivery_mode=2)
    finally:
        conn.release()


def take_one(conn, topology: Topology):
    message = wait_for(lambda: topology.runs_queue(conn.default_channel).get(no_ack=False), what="the command")
    return message


def queue_depth(url: str, queue) -> int:
    conn = connect(url)
    try:
        return queue(conn.default_channel).queue_declare(passive=True).message_count
    finally:
        conn.release()


def rows(factory) -> dict[str, DeadLetter]:
    with factory() as s:
        return {d.message_id: d for d in s.scalars(select(DeadLetter))}


@pytest.mark.rabbitmq
def test_sent_and_broker_dead_lettered_messages_both_become_rows_with_their_reasons(harness, rabbitmq_url,
                                                                                    amqp_namespace):
    topology = Topology.for_url(rabbitmq_url, amqp_namespace)
    publish_command(rabbitmq_url, topology, "sent_1", {"run_id": "one"})
    publish_command(rabbitmq_url, topology, "rejected_1", {"run_id": 1, "attempt": 0})
    conn = connect(rabbitmq_url)
    try:
        sent = take_one(conn, topology)
        assert send_to_dead_letters(conn.default_channel, topology, sent, reason="payload.run_id: not an integer",
                                    queue=topology.runs_queue.name) is True
        take_one(conn, topology).reject(requeue=False)  # RabbitMQ dead-letters it with x-death
    finally:
        conn.release()
    assert queue_depth(rabbitmq_url, topology.runs_queue) == 0

    collector = DeadLetterCollector(harness.factory, rabbitmq_url, amqp_namespace, poll_interval=0.1)
    with in_thread(collector.run, "collector"):
        found = wait_for(lambda: (r := rows(harness.factory)) and len(r) == 2 and r, what="two dead letters")
    runs_queue, commands = topology.runs_queue.name, topology.commands.name
    mine, brokers = found["sent_1"], found["rejected_1"]
    assert (mine.reason, mine.queue, mine.exchange, mine.routing_key, mine.message_type) == (
        "payload.run_id: not an integer", runs_queue, commands, "runs", "run.requested")
    assert (brokers.reason, brokers.queue, brokers.exchange, brokers.routing_key) == (
        "rejected", runs_queue, commands, "runs")
    assert json.loads(mine.body)["payload"] == {"run_id": "one"}
    assert "x-death" in brokers.headers and brokers.died_at is not None
    assert queue_depth(rabbitmq_url, topology.dead_queue) == 0  # acked once recorded


@pytest.mark.rabbitmq
def test_the_collector_holds_messages_while_the_database_is_down_and_records_them_when_it_is_back(
        harness, rabbitmq_url, amqp_namespace):
    topology = Topology.for_url(rabbitmq_url, amqp_namespace)
    for n in range(2):
        publish_command(rabbitmq_url, topology, f"held_{n}", {"run_id": "x"})
    conn = connect(rabbitmq_url)
    try:
        for _ in range(2):
            send_to_dead_letters(conn.default_channel, topology, take_one(conn, topology), reason="bad",
                                 queue=topology.runs_queue.name)
    finally:
        conn.release()
    closed_port = make_engine("postgresql+psycopg://root@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    collector = DeadLetterCollector(session_factory(closed_port), rabbitmq_url, amqp_namespace, poll_interval=0.1,
                                    retry_initial=0.1, retry_max=0.5)
    with in_thread(collector.run, "collector"):
        wait_for(lambda: collector.failures >= 3, what="the collector to try and fail a few times")
        assert rows(harness.factory) == {}
    # stopped while the database was down: nothing acked, nothing lost
    assert wait_for(lambda: queue_depth(rabbitmq_url, topology.dead_queue) == 2, what="both back in the queue")

    failed_before = collector.failures
    with in_thread(collector.run, "collector"):
        wait_for(lambda: collector.failures > failed_before, what="the database to be still down")
        collector.factory = harness.factory  # the database is back
        wait_for(lambda: len(rows(harness.factory)) == 2, what="both recorded")
    assert set(rows(harness.factory)) == {"held_0", "held_1"}
    assert queue_depth(rabbitmq_url, topology.dead_queue) == 0
    closed_port.dispose()


def test_on_memory_a_sent_dead_letter_is_collected_the_same_way(harness):
    url, topology = "memory://", Topology.for_url("memory://", "tmemorydead")
    publish_command(url, topology, "mem_1", {"run_id": "one"})
    conn = connect(url)
    try:
        assert send_to_dead_letters(Producer(conn.default_channel), topology, take_one(conn, topology),
                                    reason="malformed", queue=topology.runs_queue.name)
    finally:
        conn.release()
    collector = DeadLetterCollector(harness.factory, url, "tmemorydead", poll_interval=0.05)
    with in_thread(collector.run, "collector"):
        letter = wait_for(lambda: rows(harness.factory).get("mem_1"), what="the dead letter")
    assert (letter.reason, letter.queue, letter.exchange, letter.routing_key) == (
        "malformed", topology.runs_queue.name, topology.commands.name, "runs")
