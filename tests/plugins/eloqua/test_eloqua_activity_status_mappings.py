"""The plugin configuration's status mappings as the fallback of the activity jobs' own
``status_activities``: a status the job does not list takes the configuration's activity type,
a status both list takes the job's — whether a delivery is sent alone (``deliver``) or with a
window the dispatcher claimed (``plan_and_claim``)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connectors.db import transaction
from connectors.jobs import deliveries
from connectors.jobs.delivery_batches import plan_and_claim
from connectors.models import Event, PluginConfig
from connectors.plugin_configs import save_status_mappings

from .activity_support import accepted_job, attendee, change, deliver, plan

AT = datetime(2026, 6, 9, 9, 30, tzinfo=timezone.utc)


def map_statuses(h, rows: list[tuple[str, str, bool]]) -> None:
    """(Certain status, activity type, for the harness's event only) rows on the Eloqua configuration."""
    with transaction(h.factory) as s:
        config = s.scalar(select(PluginConfig).where(PluginConfig.application == "eloqua"))
        event_id = s.scalar(select(Event.id))
        save_status_mappings(s, config, [
            {"direction": "outbound", "certain_status": status, "remote_status": activity,
             "event_id": event_id if own else None} for status, activity, own in rows], user=None, label="Eloqua")


@pytest.fixture
def code(harness, sandbox):
    accepted_job(harness, status_activities=["Attended = Attended"])
    return attendee(harness, sandbox.all_contacts()[3]["C_EmailAddress"])


def test_a_status_the_job_does_not_map_takes_the_configurations_activity_type(harness, sandbox, code):
    map_statuses(harness, [("Cancelled", "Waitlisted", False), ("Cancelled", "Cancelled", True)])  # the event's row wins
    [delivery_id] = plan(harness, change(harness, code, "Cancelled", at=AT))
    assert deliver(harness, delivery_id) == "sent"
    assert [a["activityType"] for a in sandbox.all_activities()] == ["Cancelled"]


def test_the_jobs_own_map_wins_over_the_configuration(harness, sandbox, code):
    map_statuses(harness, [("Attended", "Registered", False), ("No-show", "No Show", False)])
    [delivery_id] = plan(harness, change(harness, code, "Attended", at=AT))
    assert deliver(harness, delivery_id) == "sent"
    assert [a["activityType"] for a in sandbox.all_activities()] == ["Attended"]


def test_a_status_neither_maps_is_ignored(harness, sandbox, code):
    map_statuses(harness, [("No-show", "No Show", False)])
    [delivery_id] = plan(harness, change(harness, code, "Cancelled", at=AT))
    assert deliver(harness, delivery_id) == "sent"
    assert sandbox.all_activities() == []


def test_a_claimed_window_carries_the_mappings(harness, sandbox, code):
    map_statuses(harness, [("Cancelled", "Cancelled", False), ("Attended", "Registered", False)])
    window = [change(harness, code, "Cancelled", at=AT), change(harness, code, "Attended", at=AT)]
    claims = plan_and_claim(harness.factory, harness.registry, window, "w1", 60)
    assert [c.status_mappings for c in claims] == [{"Cancelled": "Cancelled", "Attended": "Registered"}] * 2
    assert [deliveries.send(harness.factory, harness.registry, harness.box, c, "w1") for c in claims] == ["sent"] * 2
    assert sorted(a["activityType"] for a in sandbox.all_activities()) == ["Attended", "Cancelled"]
