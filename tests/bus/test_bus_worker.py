"""The worker's consumer: malformed messages, flow control by free slots, graceful stop."""
from __future__ import annotations

import logging
import socket
import threading
import time

from kombu import Producer

from connectors.bus import Relay, connect
from connectors.models import JobRun

from .slowimport_plugin import IMPORT
from .support import bus_running, in_thread, wait_for, worker_for


def publish_raw(broker_url, topology, body, **options):
    conn = connect(broker_url)
    try:
        channel = conn.default_channel
        topology.declare(channel)
        Producer(channel).publish(body, exchange=topology.commands, routing_key="runs", **options)
    finally:
        conn.release()


def queue_depth(broker_url, queue):
    conn = connect(broker_url)
    try:
        return queue(conn.default_channel).queue_declare(passive=True).message_count
    finally:
        conn.release()


def test_malformed_messages_are_rejected_to_the_dead_letter_queue_and_work_goes_on(harness, broker_url, namespace,
                                                                                caplog):
    caplog.set_level(logging.INFO, logger="connectors.bus")
    worker = worker_for(harness, broker_url, namespace)
    topology = worker.topology
    publish_raw(broker_url, topology, b"\x80\x04K\x01.", content_type="application/x-python-serialize",
                content_encoding="binary", message_id="pickled")
    publish_raw(broker_url, topology, {"id": "wrong", "type": "run.requested", "version": 1, "occurred_at": "2026-01-01T00:00:00Z",
                                       "payload": {"run_id": "one"}}, serializer="json", message_id="wrong")
    publish_raw(broker_url, topology, b"{not json", content_type="application/json",
                content_encoding="utf-8", message_id="garbled")
    run_id = harness.submit(IMPORT, {"total": 2})

    with bus_running(harness, broker_url, namespace):
        wait_for(lambda: harness.result(run_id).status == "succeeded", what="the valid run after the bad ones")

    rejected = [r.getMessage() for r in caplog.records if "dead-lettered: malformed" in r.getMessage()]
    assert len(rejected) == 3, rejected
    assert any("pickled" in m and "ContentDisallowed" in m for m in rejected)
    assert any("wrong" in m and "payload.run_id: Not a valid integer" in m for m in rejected)
    wait_for(lambda: queue_depth(broker_url, topology.dead_queue) == 3, what="3 dead letters, each with its reason")


def test_worker_takes_a_command_only_when_a_slot_is_free(harness, broker_url, namespace):
    first = harness.submit(IMPORT, {"total": 4, "page_size": 2, "delay": 0.3})
    second = harness.submit(IMPORT, {"total": 4, "page_size": 2, "delay": 0.3})
    relay = Relay(harness.factory, broker_url, namespace)
    assert relay.run_once() == 2
    relay.close()
    worker = worker_for(harness, broker_url, namespace, concurrency=1)

    with in_thread(worker.run, "worker"):
        wait_for(lambda: worker.slots.busy() == [first], what="the first run to start")
        time.sleep(0.3)
        assert worker.slots.busy() == [first]
        # The second command waits on the broker, not in the worker: another worker could take it.
        assert queue_depth(broker_url, worker.topology.runs_queue) == 1
        wait_for(lambda: harness.result(second).status == "succeeded", what="the second run")
    with harness.factory() as s:
        one, two = s.get(JobRun, first), s.get(JobRun, second)
        assert one.status == "succeeded" and two.started_at >= one.ended_at


def test_graceful_stop_lets_an_in_flight_run_finish(harness, broker_url, namespace):
    run_id = harness.submit(IMPORT, {"total": 4, "page_size": 2, "delay": 0.3})
    relay = Relay(harness.factory, broker_url, namespace)
    worker = worker_for(harness, broker_url, namespace, grace_seconds=10)
    with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"):
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        wait_for(lambda: worker.slots.busy() == [run_id], what="the run to start")
        worker.stop()
        thread.join(10)
    assert not thread.is_alive()
    assert harness.result(run_id).status == "succeeded"


def test_stop_abandons_runs_past_the_grace_period(harness, broker_url, namespace, caplog):
    run_id = harness.submit(IMPORT, {"total": 6, "page_size": 2, "delay": 0.3})
    with bus_running(harness, broker_url, namespace, grace_seconds=0.1) as worker:
        wait_for(lambda: worker.slots.busy() == [run_id], what="the run to start")
    assert f"abandoning runs [{run_id}]" in caplog.text
    wait_for(lambda: not worker.slots.busy(), what="the abandoned thread to end before the database goes")


def test_worker_reconnects_after_losing_the_broker_connection(harness, rabbitmq_url, amqp_namespace, caplog):
    """RabbitMQ only: cut the worker's TCP connection under its feet, then expect work to go on."""
    caplog.set_level(logging.INFO, logger="connectors.bus")
    with bus_running(harness, rabbitmq_url, amqp_namespace) as worker:
        first = harness.submit(IMPORT, {"total": 1})
        wait_for(lambda: harness.result(first).status == "succeeded", what="the first run")
        assert worker.connection.connection.heartbeat == worker.heartbeat  # negotiated with the broker
        worker.connection.connection.sock.shutdown(socket.SHUT_RDWR)
        wait_for(lambda: "bus connection lost" in caplog.text, what="the worker to notice")
        second = harness.submit(IMPORT, {"total": 1})
        wait_for(lambda: harness.result(second).status == "succeeded", what="a run after the reconnect")
