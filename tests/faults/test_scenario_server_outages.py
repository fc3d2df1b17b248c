"""Faults of the servers themselves, with an import running and status changes flowing through
``connectors relay`` / ``dispatcher`` / ``worker`` into Eloqua activities:

* RabbitMQ's node SIGKILLed mid-stream and started again (its durable quorum queues come back);
* PostgreSQL stopped (``pg_ctl -m immediate``: a crash to its clients) for 20 s and for 120 s,
  with status changes written and not yet all delivered, and the import mid-way.

Each asserts: the import ``succeeded`` with every contact a registration once; exactly one
activity per status change (0 lost, 0 duplicated); nothing dead-lettered. Recovery: from the
server accepting connections again to the last activity and the import's end.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from .stack import activity_stack
from .support import (StatusWriter, dead_letters, dead_queue_depth, delivery_states, record_recovery,
                      registrations_of, run_of, wait_until)

PEOPLE, PAGE = 400, 40


def caught_up(stack, run_id) -> bool:
    """Every delivery recorded as sent (hence its activity made) and the import ended."""
    return delivery_states(stack.services) == {"sent": PEOPLE} and run_of(stack.services, run_id).status == "succeeded"


def assert_exactly_once(stack, run_id) -> None:
    done = run_of(stack.services, run_id)
    assert done.status == "succeeded", (done.status, done.error)
    assert registrations_of(stack.services, stack.import_event_id) == (PEOPLE, PEOPLE)
    activities = Counter(stack.activities())
    assert sorted(activities) == sorted(stack.sandbox.contact_ids), "an activity was lost"
    assert max(activities.values()) == 1, f"duplicated: {[c for c, n in activities.items() if n > 1][:10]}"
    assert dead_letters(stack.services) == []
    assert dead_queue_depth(stack.broker_url, stack.namespace) == 0


def test_rabbitmq_killed_during_an_import_and_a_stream_of_status_changes(stack):
    activity_stack(stack, PEOPLE, latency=0.03)
    run_id = stack.submit_import(page_size=PAGE)
    writer = StatusWriter(stack.services, stack.event_id, stack.reg_ids, batch=4, pause=0.05).start()
    wait_until(lambda: writer.written >= PEOPLE // 4 and len(stack.activities()) > 0
               and (run_of(stack.services, run_id).checkpoint or {}).get("done", 0) >= PAGE,
               120, "changes flowing and the import past its first page", step=0.05)
    stack.rabbitmq.kill()
    at_fault = {"written": writer.written, "activities": len(stack.activities())}
    stack.rabbitmq.start()
    back = time.monotonic()
    writer.join()
    wait_until(lambda: caught_up(stack, run_id), 240, "every activity and the import after the restart")
    record_recovery("RabbitMQ SIGKILLed and restarted", "import + status-change stream", time.monotonic() - back,
                    broker_restart_seconds=stack.rabbitmq.start_seconds[-1],
                    import_attempts=run_of(stack.services, run_id).attempt + 1, **at_fault)
    assert_exactly_once(stack, run_id)


@pytest.mark.parametrize("outage", [20, 120], ids=["20s", "120s"])
def test_postgresql_stopped_with_a_backlog_of_status_changes_and_an_import(stack, outage):
    activity_stack(stack, PEOPLE, latency=0.05)
    run_id = stack.submit_import(page_size=PAGE)
    wait_until(lambda: (run_of(stack.services, run_id).checkpoint or {}).get("done", 0) >= PAGE,
               120, "the import past its first page", step=0.05)
    writer = StatusWriter(stack.services, stack.event_id, stack.reg_ids, batch=100, pause=0.0)
    writer.write_all_now()  # the backlog: every change committed, most not delivered yet
    pending = PEOPLE - len(stack.activities())
    stack.postgres.stop("immediate")
    time.sleep(outage)  # THE FAULT: the database is away for this long (not a wait on a condition)
    stack.postgres.start()
    back = time.monotonic()
    wait_until(lambda: caught_up(stack, run_id), 300, "every activity and the import after the outage")
    record_recovery(f"PostgreSQL stopped {outage}s", "backlog of status changes + import",
                    time.monotonic() - back, pending_at_fault=pending,
                    import_attempts=run_of(stack.services, run_id).attempt + 1)
    assert_exactly_once(stack, run_id)
