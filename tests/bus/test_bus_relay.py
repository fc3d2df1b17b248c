"""The relay's at-least-once contract: a crash between publish and mark publishes again."""
from __future__ import annotations

import socket
import time

import pytest
from kombu import Queue
from sqlalchemy import select

from connectors import outbox
from connectors.bus import Relay, connect
from connectors.config import Settings
from connectors.db import read_session_factory
from connectors.models import Outbox
from connectors.services import Services

from .slowimport_plugin import IMPORT


def runs_queue_ids(relay, broker_url):
    conn = connect(broker_url)
    ids = []
    try:
        queue = relay.topology.runs_queue(conn.default_channel)
        while (message := queue.get(accept=["json"])) is not None:
            ids.append(message.payload["id"])
            message.ack()
    finally:
        conn.release()
    return ids


def test_crash_before_marking_sent_publishes_again(harness, broker_url, namespace, monkeypatch):
    run_id = harness.submit(IMPORT, {"total": 1})
    relay = Relay(harness.factory, broker_url, namespace)

    def crash(session, ids, at=None):
        raise RuntimeError("relay died before its commit")

    monkeypatch.setattr(outbox, "mark_sent", crash)
    with pytest.raises(RuntimeError):
        relay.run_once()
    monkeypatch.undo()
    assert relay.run_once() == 1
    assert relay.run_once() == 0
    relay.close()
    assert runs_queue_ids(relay, broker_url) == [f"run_{run_id}_0", f"run_{run_id}_0"]  # the consumer dedupes


def test_row_for_an_unknown_exchange_is_left_unsent_without_blocking_the_others(harness, broker_url, namespace):
    with harness.factory.begin() as s:
        s.add(Outbox(message_id="odd", exchange="nowhere", routing_key="x", type="test.odd", payload={}))  # past add()
    run_id = harness.submit(IMPORT, {"total": 1})
    relay = Relay(harness.factory, broker_url, namespace)
    try:
        assert relay.run_once() == 1
    finally:
        relay.close()
    with harness.factory() as s:
        odd = s.scalar(select(Outbox).where(Outbox.exchange == "nowhere"))
        assert (odd.sent_at, odd.attempts) == (None, 1)
    assert runs_queue_ids(relay, broker_url) == [f"run_{run_id}_0"]


def test_events_go_to_the_topic_exchange(harness, broker_url, namespace):
    relay = Relay(harness.factory, broker_url, namespace)
    conn = connect(broker_url)
    try:
        listener = Queue(f"{namespace}.listener", relay.topology.events, routing_key="registration.#",
                         auto_delete=True)(conn.default_channel)
        relay.topology.declare(conn.default_channel)
        listener.declare()
        with harness.factory.begin() as s:
            outbox.add(s, exchange=outbox.EVENTS, routing_key="registration.status_changed",
                       type="registration.status_changed", message_id="evt_1",
                       payload={"id": "evt_1", "type": "registration.status_changed", "account_code": "A",
                                "event_code": "E", "registration_code": "R1"})
        assert relay.run_once() == 1
        message = None
        for _ in range(50):
            if (message := listener.get(accept=["json"])) is not None:
                break
            time.sleep(0.02)
        assert message is not None and message.payload["id"] == "evt_1"
        assert message.delivery_info["routing_key"] == "registration.status_changed"
        message.ack()
        listener.delete()
    finally:
        relay.close()
        conn.release()


def test_relay_recovers_from_a_lost_broker_connection(harness, rabbitmq_url, amqp_namespace):
    relay = Relay(harness.factory, rabbitmq_url, amqp_namespace)
    try:
        first = harness.submit(IMPORT, {"total": 1})
        assert relay.run_once() == 1
        relay._connection.connection.sock.shutdown(socket.SHUT_RDWR)
        second = harness.submit(IMPORT, {"total": 1})
        try:
            sent = relay.run_once()
        except Exception:  # noqa: BLE001 - allowed: the next pass must succeed
            sent = relay.run_once()
        assert sent == 1
        relay.close()
        assert runs_queue_ids(relay, rabbitmq_url) == [f"run_{first}_0", f"run_{second}_0"]
    finally:
        relay.close()


def test_relay_takes_its_defaults_from_services(harness, tmp_path):
    settings = Settings(instance_dir=tmp_path, database_url=str(harness.engine.url), broker_url="memory://",
                        bus_namespace="fromsettings", secret_key="x")
    services = Services(settings=settings, engine=harness.engine, factory=harness.factory,
                        read_factory=read_session_factory(harness.engine), registry=harness.registry, box=harness.box)
    relay = Relay(services)
    assert (relay.factory, relay.broker_url, relay.topology.namespace) == (harness.factory, "memory://", "fromsettings")
