"""Submit -> outbox -> relay -> bus -> worker -> run, on memory:// and on a real RabbitMQ."""
from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from connectors.bus import Relay
from connectors.models import JobRun, Outbox, Registration

from .slowimport_plugin import IMPORT, expected_emails
from .support import bus_running, wait_for

ENDED = ("succeeded", "partially_failed", "failed", "cancelled")


def ended(harness, run_id):
    result = harness.result(run_id)
    return result if result.status in ENDED else None


def test_submitted_run_is_executed_once_even_when_its_command_is_delivered_twice(harness, broker_url, namespace,
                                                                                   caplog):
    caplog.set_level(logging.INFO, logger="connectors.bus")
    run_id = harness.submit(IMPORT, {"total": 10, "page_size": 4})

    with bus_running(harness, broker_url, namespace):
        result = wait_for(lambda: ended(harness, run_id), what=f"run {run_id} to end")
        assert result.status == "succeeded", result
        assert result.counters == {"created": 10}
        assert sorted(r["email"] for r in harness.registrations()) == expected_emails(10)

        # Deliver the very same command again (a relay that crashed before marking it sent).
        with harness.factory.begin() as s:
            command = s.scalar(select(Outbox).where(Outbox.message_id == f"run_{run_id}_0"))
            s.execute(update(Outbox).where(Outbox.id == command.id).values(sent_at=None))
        wait_for(lambda: f"command run_{run_id}_0); dropped" in caplog.text, what="the duplicate to be dropped")

    # The worker stopped after handling everything it received: nothing happened twice.
    again = harness.result(run_id)
    assert (again.status, again.counters, again.log) == (result.status, result.counters, result.log)
    assert len(harness.registrations()) == 10
    with harness.factory() as s:
        assert s.scalar(select(func.count()).select_from(JobRun)) == 1
        assert s.scalar(select(func.count(func.distinct(Registration.profile_id)))) == 10


def test_relay_publishes_in_id_order_and_marks_rows_sent(harness, broker_url, namespace):
    first, second = harness.submit(IMPORT, {"total": 1}), harness.submit(IMPORT, {"total": 1})
    relay = Relay(harness.factory, broker_url, namespace)
    try:
        assert relay.run_once() == 2
        assert relay.run_once() == 0
        received = _drain(relay, broker_url)
    finally:
        relay.close()
    assert [m["id"] for m in received] == [f"run_{first}_0", f"run_{second}_0"]
    assert received[0]["type"] == "run.requested" and received[0]["payload"] == {"run_id": first, "attempt": 0}
    assert set(received[0]) == {"id", "type", "version", "occurred_at", "payload"}
    assert all(r.sent_at is not None for r in _outbox(harness))


def _outbox(harness):
    with harness.factory() as s:
        return list(s.scalars(select(Outbox).order_by(Outbox.id)))


def _drain(relay, broker_url):
    """Every message waiting on the runs queue, read with basic.get."""
    from connectors.bus import connect  # noqa: PLC0415

    bodies = []
    conn = connect(broker_url)
    try:
        queue = relay.topology.runs_queue(conn.default_channel)
        while (message := queue.get(accept=["json"])) is not None:
            assert message.properties.get("message_id") == message.payload["id"]
            assert message.content_type == "application/json"
            if broker_url.startswith("amqp"):
                assert message.properties["delivery_mode"] == 2  # persistent
            bodies.append(message.payload)
            message.ack()
    finally:
        conn.release()
    return bodies
