"""Status-change events over the bus: status write -> outbox -> relay -> dispatcher -> exactly
one activity per (job, event), on memory:// and on a real RabbitMQ."""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select, update

from connectors.bus import EventDispatcher, Relay
from connectors.config import Settings
from connectors.models import Delivery, Outbox

from ..core import sample_plugin
from .support import activity_harness, in_thread, wait_for


def services_of(harness, broker_url, namespace):
    settings = Settings(broker_url=broker_url, bus_namespace=namespace)
    return SimpleNamespace(settings=settings, factory=harness.factory, registry=harness.registry, box=harness.box)


def sent_deliveries(harness):
    with harness.factory() as s:
        return list(s.scalars(select(Delivery).where(Delivery.state == "sent")))


def test_each_status_change_creates_one_activity_even_when_delivered_twice(tmp_path, broker_url, namespace):
    harness, people = activity_harness(tmp_path, 5)
    harness.run("sample.import_people", {"people": people, "page_size": 5, "status_label": "Attended",
                                         "overwrite_status": True})
    dispatcher = EventDispatcher(services_of(harness, broker_url, namespace), sweep_interval=0.5)
    relay = Relay(harness.factory, broker_url, namespace)
    try:
        with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"), \
             in_thread(dispatcher.run, "dispatcher"):
            wait_for(lambda: len(sent_deliveries(harness)) == 5, what="five activities")
            with harness.factory.begin() as s:  # the relay crashed before marking them sent: all go again
                s.execute(update(Outbox).where(Outbox.exchange == "events").values(sent_at=None))
            wait_for(lambda: _all_sent(harness), what="the events to be published again")
            wait_for(lambda: not dispatcher._in_flight, what="the dispatcher to settle")
    finally:
        relay.close()
    assert sorted(activity for activity, _ in sample_plugin.SENT) == ["Attended"] * 5
    assert len({event for _, event in sample_plugin.SENT}) == 5
    harness.close()


def _all_sent(harness):
    with harness.factory() as s:
        return all(row.sent_at for row in s.scalars(select(Outbox).where(Outbox.exchange == "events")))
