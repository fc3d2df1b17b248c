"""A database outage is not a poison message: the worker and the event dispatcher hold what
they cannot act on, count nothing toward the queue's delivery limit, and resume when the
database answers again — also when the outage outlasts their hold limit, and with more deliveries
of each message than the limit (5) would allow were they requeued. On the machine's RabbitMQ
(quorum queues, the real delivery limit) and PostgreSQL reached through a proxy the test cuts."""
from __future__ import annotations

import logging
from types import SimpleNamespace

from kombu import Producer
from sqlalchemy import func, select

from connectors.bus import EventDispatcher, Relay, Topology, connect
from connectors.bus.holding import Holding
from connectors.config import Settings
from connectors.db import make_engine, session_factory
from connectors.models import Delivery
from connectors.testing import Harness

from ..bus import slowimport_plugin
from ..bus.support import activity_harness, in_thread, wait_for, worker_for
from ..core import sample_plugin

#: held for this long before republishing: the tests' outages outlast it on purpose
HOLD_LIMIT = 2.0
OUTAGE_RETRIES = 8  # more tries than the delivery limit (5): requeueing them would dead-letter the lot


def dead_letters(broker_url: str, topology: Topology) -> int:
    conn = connect(broker_url)
    try:
        return topology.dead_queue(conn.default_channel).queue_declare(passive=True).message_count
    finally:
        conn.release()


def through(proxy, harness):
    """A session factory on the harness's database, but through the proxy."""
    engine = make_engine(proxy.url_for(str(harness.engine.url.render_as_string(hide_password=False))))
    return engine, session_factory(engine)


def test_a_worker_waits_out_an_outage_and_then_runs_the_command(postgres_db, postgres_proxy, rabbitmq_url,
                                                                 amqp_namespace, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="connectors.bus")
    harness = Harness(tmp_path, plugins={"testapp": slowimport_plugin}, database_url=postgres_db)
    harness.configure(slowimport_plugin.APPLICATION, {})
    run_id = harness.submit(slowimport_plugin.IMPORT, {"total": 3})
    relay = Relay(harness.factory, rabbitmq_url, amqp_namespace)
    assert relay.run_once() == 1
    relay.close()
    engine, factory = through(postgres_proxy, harness)
    worker = worker_for(harness, rabbitmq_url, amqp_namespace, holding=Holding(limit=HOLD_LIMIT, max_backoff=0.2))
    worker.factory = factory
    postgres_proxy.down()
    try:
        with in_thread(worker.run, "worker"):
            wait_for(lambda: postgres_proxy.refused >= OUTAGE_RETRIES and _republished(caplog), timeout=60,
                     what="an outage longer than the hold limit, with more retries than the delivery limit")
            assert harness.result(run_id).status == "queued"
            postgres_proxy.up()
            wait_for(lambda: harness.result(run_id).status == "succeeded", timeout=30, what="the run after the outage")
        assert dead_letters(rabbitmq_url, worker.topology) == 0
    finally:
        engine.dispose()
        harness.close()


def test_status_changes_queued_during_an_outage_are_each_delivered_once(postgres_db, postgres_proxy, rabbitmq_url,
                                                                        amqp_namespace, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="connectors.bus")
    harness, people = activity_harness(tmp_path, 120, database_url=postgres_db)
    harness.run("sample.import_people", {"people": people, "page_size": 120, "status_label": "Attended",
                                         "overwrite_status": True})
    relay = Relay(harness.factory, rabbitmq_url, amqp_namespace)
    while relay.run_once():  # the backlog waits on the broker before the outage begins
        pass
    relay.close()
    engine, factory = through(postgres_proxy, harness)
    settings = Settings(broker_url=rabbitmq_url, bus_namespace=amqp_namespace)
    services = SimpleNamespace(settings=settings, factory=factory, registry=harness.registry, box=harness.box)
    dispatcher = EventDispatcher(services, sweep_interval=0.5, holding=Holding(limit=HOLD_LIMIT, max_backoff=0.2))
    postgres_proxy.down()
    try:
        with in_thread(dispatcher.run, "dispatcher"):
            wait_for(lambda: postgres_proxy.refused >= OUTAGE_RETRIES and _republished(caplog), timeout=60,
                     what="an outage longer than the hold limit, with more retries than the delivery limit")
            postgres_proxy.up()
            wait_for(lambda: _sent(harness) == len(people), timeout=60, what="every activity after the outage")
            wait_for(lambda: not dispatcher._in_flight, what="the dispatcher to settle")
        assert len(sample_plugin.SENT) == len(people)
        assert len({event for _, event in sample_plugin.SENT}) == len(people)
        assert dead_letters(rabbitmq_url, dispatcher.topology) == 0
    finally:
        engine.dispose()
        harness.close()


def test_a_malformed_event_is_dead_lettered_alone(tmp_path, rabbitmq_url, amqp_namespace, caplog):
    """A non-string id once took its whole window of valid events to the dead letters."""
    caplog.set_level(logging.WARNING, logger="connectors.bus")
    harness, people = activity_harness(tmp_path, 10)
    topology = Topology.for_url(rabbitmq_url, amqp_namespace)
    conn = connect(rabbitmq_url)
    try:
        topology.declare(conn.default_channel)
        Producer(conn.default_channel).publish(
            {"id": 12345, "type": "registration.status_changed", "version": 1, "occurred_at": "2026-01-01T00:00:00Z",
             "payload": {"id": 12345}}, exchange=topology.events, routing_key="registration.status_changed",
            serializer="json", message_id="poison")
    finally:
        conn.release()
    harness.run("sample.import_people", {"people": people, "page_size": 10, "status_label": "Attended",
                                         "overwrite_status": True})
    relay = Relay(harness.factory, rabbitmq_url, amqp_namespace)
    settings = Settings(broker_url=rabbitmq_url, bus_namespace=amqp_namespace)
    services = SimpleNamespace(settings=settings, factory=harness.factory, registry=harness.registry, box=harness.box)
    dispatcher = EventDispatcher(services, sweep_interval=0.5)
    try:
        with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"), \
             in_thread(dispatcher.run, "dispatcher"):
            wait_for(lambda: _sent(harness) == len(people), what="every valid event's activity")
            wait_for(lambda: dead_letters(rabbitmq_url, topology) == 1, what="the malformed event in the dead letters")
    finally:
        relay.close()
        harness.close()
    assert any("poison" in r.getMessage() and "dead-lettered" in r.getMessage() and "id" in r.getMessage()
               for r in caplog.records)


def test_a_run_command_past_the_largest_id_is_dead_lettered_alone(sqlite_harness, rabbitmq_url, amqp_namespace,
                                                                   caplog):
    """2^40 once passed the parser, failed the claim with 'integer out of range', was taken for
    an outage and stopped every worker that received it."""
    harness = sqlite_harness
    caplog.set_level(logging.WARNING, logger="connectors.bus")
    worker = worker_for(harness, rabbitmq_url, amqp_namespace)
    conn = connect(rabbitmq_url)
    try:
        worker.topology.declare(conn.default_channel)
        Producer(conn.default_channel).publish(
            {"id": "run_x", "type": "run.requested", "version": 1, "occurred_at": "2026-01-01T00:00:00Z",
             "payload": {"run_id": 2**40, "attempt": 0}}, exchange=worker.topology.commands, routing_key="runs",
            serializer="json", message_id="huge")
    finally:
        conn.release()
    run_id = harness.submit(slowimport_plugin.IMPORT, {"total": 2})
    relay = Relay(harness.factory, rabbitmq_url, amqp_namespace)
    try:
        with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"), in_thread(worker.run, "worker"):
            wait_for(lambda: harness.result(run_id).status == "succeeded", what="the valid run after the huge id")
            wait_for(lambda: dead_letters(rabbitmq_url, worker.topology) == 1, what="the huge id in the dead letters")
    finally:
        relay.close()
    assert any("huge" in r.getMessage() and "run_id" in r.getMessage() for r in caplog.records)


def _republished(caplog) -> bool:
    return any("republished" in r.getMessage() for r in caplog.records)


def _sent(harness) -> int:
    with harness.read_factory() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.state == "sent"))
