"""Faults of our own processes and of what reaches them, on the private servers:

* ``connectors dispatcher`` SIGKILLed right after it sent activities (twice), then started again;
* poison messages among valid ones: a run command that is not JSON, one naming run 2^40 (past
  any id), and a status-change event whose id is not a string. Each must be dead-lettered alone
  (recorded by the relay's collector in ``dead_letters``) while every valid message goes through.

Both assert: exactly one activity per status change, no valid message dead-lettered.
"""
from __future__ import annotations

import time
from collections import Counter

from kombu import Producer

from connectors.bus import Topology, connect

from .stack import activity_stack
from .support import (StatusWriter, dead_letters, dead_queue_depth, delivery_states, record_recovery,
                      registrations_of, run_of, status_consumers, wait_until)

PEOPLE = 300


def assert_one_activity_per_change(stack) -> None:
    activities = Counter(stack.activities())
    assert sorted(activities) == sorted(stack.sandbox.contact_ids), \
        f"lost: {len(set(stack.sandbox.contact_ids) - set(activities))}"
    assert max(activities.values()) == 1, f"duplicated: {[c for c, n in activities.items() if n > 1][:10]}"


def test_a_dispatcher_killed_after_sending_neither_loses_nor_repeats_an_activity(stack):
    activity_stack(stack, PEOPLE, latency=0.02)
    writer = StatusWriter(stack.services, stack.event_id, stack.reg_ids, batch=3, pause=0.05).start()
    label = "dispatcher"
    for kill, after in enumerate((PEOPLE // 4, PEOPLE // 2), start=1):
        seen = wait_until(lambda: (n := len(stack.activities())) >= after and n, 120,
                          f"{after} activities sent", step=0.02)
        wait_until(lambda: len(stack.activities()) > seen, 30, "the dispatcher sending again", step=0.01)
        stack.processes.kill(label)  # right after a send: its delivery may not be recorded yet
        label = f"dispatcher-{kill + 1}"
        stack.processes.start("dispatcher", label)
        restarted = time.monotonic()
        # a request the killed one had in flight may still land: count from the new one's consuming
        wait_until(lambda: status_consumers(stack.broker_url, stack.namespace) > 0, 60, "the new dispatcher")
        consuming = len(stack.activities())
        wait_until(lambda: len(stack.activities()) > consuming, 120, "the restarted dispatcher's first activity")
        record_recovery("dispatcher SIGKILLed after sending", f"kill {kill}: to the next activity",
                        time.monotonic() - restarted)
    writer.join()
    # a send the kill cut short stays `sending` until its delivery lease (60 s) runs out; then the
    # sweep has the plugin verify it: that, not the restart, bounds the time to catch up
    wait_until(lambda: delivery_states(stack.services) == {"sent": PEOPLE}, 180, "every delivery sent")
    record_recovery("dispatcher SIGKILLed after sending", "last kill: to every delivery sent",
                    time.monotonic() - restarted)
    assert_one_activity_per_change(stack)  # every row `sent`: no send is left to make a second one
    assert dead_letters(stack.services) == []
    assert dead_queue_depth(stack.broker_url, stack.namespace) == 0


def publish_poison(broker_url: str, namespace: str) -> None:
    topology = Topology.for_url(broker_url, namespace)
    conn = connect(broker_url)
    try:
        producer = Producer(conn.default_channel)
        producer.publish(b"{not json", exchange=topology.commands, routing_key="runs",
                         content_type="application/json", content_encoding="utf-8", message_id="poison-malformed")
        producer.publish({"id": "run_x", "type": "run.requested", "version": 1, "occurred_at": "2026-01-01T00:00:00Z",
                          "payload": {"run_id": 2**40, "attempt": 0}}, exchange=topology.commands, routing_key="runs",
                         serializer="json", message_id="poison-huge-run-id")
        producer.publish({"id": 12345, "type": "registration.status_changed", "version": 1,
                          "occurred_at": "2026-01-01T00:00:00Z", "payload": {"id": 12345}},
                         exchange=topology.events, routing_key="registration.status_changed", serializer="json",
                         message_id="poison-event-id")
    finally:
        conn.release()


def test_poison_messages_are_dead_lettered_alone_and_valid_ones_go_through(stack):
    activity_stack(stack, PEOPLE, latency=0.0)
    publish_poison(stack.broker_url, stack.namespace)
    started = time.monotonic()
    run_id = stack.submit_import(page_size=100)
    StatusWriter(stack.services, stack.event_id, stack.reg_ids, batch=50, pause=0.0).write_all_now()
    wait_until(lambda: len(stack.activities()) >= PEOPLE and run_of(stack.services, run_id).status == "succeeded",
               120, "every valid message's work")
    wait_until(lambda: len(dead_letters(stack.services)) >= 3, 60, "the three poison messages recorded")
    record_recovery("poison messages", "3 poison among valid", time.monotonic() - started)
    wait_until(lambda: dead_queue_depth(stack.broker_url, stack.namespace) == 0, 60,
               "every dead letter collected (a wrongly dead-lettered valid one would be among them)")
    letters = dead_letters(stack.services)
    assert len(letters) == 3, letters
    topology = Topology.for_url(stack.broker_url, stack.namespace)
    assert sorted(queue for queue, _ in letters) == sorted([topology.runs_queue.name] * 2
                                                           + [topology.status_events_queue.name]), letters
    assert dead_queue_depth(stack.broker_url, stack.namespace) == 0
    assert run_of(stack.services, run_id).status == "succeeded"
    assert registrations_of(stack.services, stack.import_event_id) == (PEOPLE, PEOPLE)
    assert_one_activity_per_change(stack)
