"""The activity jobs on the real path: status change -> outbox -> relay -> bus -> event dispatcher
-> Eloqua, on memory:// and on RabbitMQ; a relay that publishes everything twice and a create
whose answer is lost still leave exactly one activity per change."""
from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from connectors.bus import EventDispatcher, Relay, Topology, connect
from connectors.config import Settings
from connectors.models import Delivery, Outbox

from .activity_support import CREATE_ACTIVITY, REG, accepted_job, attendee, change


@pytest.fixture(params=["memory", "amqp"])
def bus(request):
    url = "memory://" if request.param == "memory" else request.getfixturevalue("rabbitmq_url")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    yield url, namespace
    conn = connect(url)
    try:
        Topology.for_url(url, namespace).delete(conn.default_channel)
    finally:
        conn.release()


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def states(h) -> list[str]:
    with h.factory() as s:
        return sorted(s.scalars(select(Delivery.state)))


def test_each_change_becomes_one_activity_through_the_dispatcher(harness, sandbox, bus):
    url, namespace = bus
    accepted_job(harness, REG, status_filter=["Attended"])
    people = sandbox.all_contacts()[10:14]
    codes = [attendee(harness, p["C_EmailAddress"]) for p in people]
    sandbox.fail_next(1, 503, after_effect=True, path=CREATE_ACTIVITY)  # one create's answer is lost
    for code in codes:
        change(harness, code, "Attended")
    change(harness, codes[0], "Cancelled")  # filtered out
    services = SimpleNamespace(settings=Settings(broker_url=url, bus_namespace=namespace), factory=harness.factory,
                               registry=harness.registry, box=harness.box)
    dispatcher = EventDispatcher(services, sweep_interval=0.3)
    relay = Relay(harness.factory, url, namespace)
    stop = threading.Event()
    threads = [threading.Thread(target=lambda: relay.run_forever(stop, interval=0.05), daemon=True),
               threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: states(harness) == ["sent"] * 4, "four sent deliveries")
        with harness.factory.begin() as s:  # the relay died before marking them sent: all published again
            s.execute(update(Outbox).where(Outbox.exchange == "events").values(sent_at=None))
        wait_for(lambda: _all_published(harness), "the events to be published again")
        time.sleep(1.0)  # room for a wrong second delivery to happen
        wait_for(lambda: not dispatcher._in_flight, "the dispatcher to settle")
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        relay.close()
    activities = sandbox.all_activities()
    assert sorted(a["contactId"] for a in activities) == sorted(str(p["id"]) for p in people)
    assert {a["activityType"] for a in activities} == {"Attended"}
    assert states(harness) == ["sent"] * 4


def _all_published(h) -> bool:
    with h.factory() as s:
        return all(row.sent_at for row in s.scalars(select(Outbox).where(Outbox.exchange == "events")))
