"""Trigger Marketo Campaign, run end to end against the sandbox (spec §8.2)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connectors.db import transaction
from connectors.models import Event
from connectors.testing import EVENT_CODE
from connectors_marketo.jobs import create_update_leads
from connectors_marketo.jobs.trigger_campaign import KEY

from .outbound_support import ATTENDEES, edit_registration

TRIGGER = r"/rest/v1/campaigns/\d+/trigger\.json"
LOOKUP = r"/rest/v1/leads\.json"


@pytest.fixture
def harness(programme_harness):
    return programme_harness


@pytest.fixture
def campaign(sandbox):
    return sandbox.add_campaign("SUMMIT26 Reminder")


@pytest.fixture
def with_leads(harness):
    """Every registration already has its Marketo lead (Create or Update Leads ran)."""
    assert harness.run(create_update_leads.KEY, {}).counters == {"created": ATTENDEES}
    return harness


def lead_ids(harness):
    return {p["email"]: int(p["external_ids"]["marketo_lead_id"]) for p in harness.profiles()
            if p["external_ids"].get("marketo_lead_id")}


def requested(sandbox):
    return [lead for run in sandbox.campaign_runs for lead in run.lead_ids]


def test_requests_the_campaign_for_every_registration_in_chunks_of_100(with_leads, sandbox, campaign):
    with transaction(with_leads.factory) as s:
        event = s.scalar(select(Event).where(Event.event_code == EVENT_CODE))
        event.start_date = datetime(2026, 6, 9, 22, 30, tzinfo=timezone.utc)  # already the 10th in Paris
    result = with_leads.run(KEY, {"campaign_id": campaign["id"]})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": ATTENDEES}
    runs = sandbox.campaign_runs
    assert [len(r.lead_ids) for r in runs] == [100, 100, 100, 20]
    assert [len(c.body["input"]["leads"]) for c in sandbox.journal.filter("POST", TRIGGER)] == [100, 100, 100, 20]
    assert {r.campaign_id for r in runs} == {campaign["id"]}
    assert sorted(requested(sandbox)) == sorted(lead_ids(with_leads).values())
    assert runs[0].token_values == {"{{my.EventName}}": "Test event", "{{my.EventCode}}": EVENT_CODE,
                                    "{{my.EventStartDate}}": "2026-06-10"}
    assert all(r.tokens == runs[0].tokens for r in runs)
    assert sandbox.journal.filter("GET", LOOKUP) == []  # ids came from the profiles


def test_leads_are_found_by_email_and_kept_on_the_profiles(harness, sandbox, campaign):
    people = harness.registrations()
    known = people[:-5]
    sandbox.add_leads([{"email": p["email"]} for p in known])
    result = harness.run(KEY, {"campaign_id": campaign["id"]})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": len(known), "skipped": 5}
    assert {r["code"] for r in result.records} == {"no_lead"}
    assert all("Create or Update Leads in Marketo" in r["message"] for r in result.records)
    lookups = sandbox.journal.filter("GET", LOOKUP)
    assert lookups and all(len(c.param("filterValues").split(",")) <= 300 for c in lookups)
    assert {c.param("filterType") for c in lookups} == {"email"}
    ids = lead_ids(harness)
    assert len(ids) == len(known) and sorted(requested(sandbox)) == sorted(ids.values())
    mark = len(sandbox.journal)
    again = harness.run(KEY, {"campaign_id": campaign["id"], "only_changed": False})
    assert again.counters == {"created": len(known), "skipped": 5}
    assert len([c for c in sandbox.journal.entries()[mark:] if c.method == "GET" and c.path == "/rest/v1/leads.json"]) == 1


def test_the_ledger_requests_only_new_or_changed_registrations(with_leads, sandbox, campaign):
    first = with_leads.run(KEY, {"campaign_id": campaign["id"]})
    assert first.counters == {"created": ATTENDEES}
    second = with_leads.rerun(first.run_id)
    assert second.status == "succeeded" and second.counters == {}
    assert len(sandbox.campaign_runs) == 4
    some = with_leads.registrations()[7]
    edit_registration(with_leads, some["registration_code"], status="Cancelled")
    third = with_leads.rerun(first.run_id)
    assert third.counters == {"created": 1}
    assert sandbox.campaign_runs[-1].lead_ids == (lead_ids(with_leads)[some["email"]],)
    everyone = with_leads.run(KEY, {"campaign_id": campaign["id"], "only_changed": False})
    assert everyone.counters == {"created": ATTENDEES}


@pytest.mark.parametrize("options, code", [
    ({"type": "batch"}, "not_trigger_campaign"),
    ({"active": False}, "campaign_inactive"),
    ({"requestable": False}, "campaign_not_requestable"),
    (None, "campaign_not_found"),
])
def test_a_campaign_that_cannot_be_requested_fails_before_any_request(with_leads, sandbox, options, code):
    campaign_id = sandbox.add_campaign("Checked", **options)["id"] if options is not None else 987654
    result = with_leads.run(KEY, {"campaign_id": campaign_id})
    assert result.status == "failed" and result.error.startswith(code)
    assert sandbox.journal.filter("POST", TRIGGER) == [] and sandbox.campaign_runs == []
    assert result.counters == {}


def test_my_tokens_render_the_event(with_leads, sandbox, campaign):
    tokens = {"my.Venue": "{{event.name}} ({{ event.code }})", "{{my.Zone}}": "{{event.timezone}}", "Plain": "x"}
    result = with_leads.run(KEY, {"campaign_id": campaign["id"], "tokens": tokens, "status_labels": ["Attended"]})
    assert result.status == "succeeded"
    assert sandbox.campaign_runs[0].token_values == {"{{my.Venue}}": f"Test event ({EVENT_CODE})",
                                                     "{{my.Zone}}": "Europe/Paris", "{{my.Plain}}": "x"}
    attended = [r for r in with_leads.registrations() if r["status_label"] == "Attended"]
    assert result.counters == {"created": len(attended)}


def test_my_tokens_as_lines_and_their_checks(harness, campaign):
    run_id = harness.submit(KEY, {"campaign_id": campaign["id"], "tokens": "my.A={{event.code}}\nmy.B = b=c"})
    assert run_id
    with pytest.raises(Exception) as caught:
        harness.submit(KEY, {"campaign_id": campaign["id"], "tokens": {"my.A": "{{event.venue}}"}})
    assert "event.venue" in str(caught.value)
    with pytest.raises(Exception) as caught:
        harness.submit(KEY, {"campaign_id": campaign["id"], "tokens": ["no equals sign"]})
    assert "name=template" in str(caught.value)


def test_registrations_sharing_a_lead_request_it_once(harness, sandbox, campaign):
    first, second = harness.registrations()[:2]
    edit_registration(harness, second["registration_code"], email=first["email"])
    lead = sandbox.add_lead(email=first["email"])
    result = harness.run(KEY, {"campaign_id": campaign["id"], "status_labels": [first["status_label"], second["status_label"]]})
    assert requested(sandbox) == [lead["id"]]
    skipped = {r["code"] for r in result.records}
    assert "duplicate_lead" in skipped and result.counters["created"] == 1


def test_an_email_with_two_leads_is_skipped(harness, sandbox, campaign):
    person = harness.registrations()[0]
    sandbox.add_leads([{"email": person["email"]}, {"email": person["email"]}])
    result = harness.run(KEY, {"campaign_id": campaign["id"]})
    assert result.counters == {"skipped": ATTENDEES}
    assert [r["code"] for r in result.records].count("multiple_leads") == 1
    assert sandbox.campaign_runs == []


@pytest.mark.parametrize("only_changed", [True, False])
def test_quota_exhausted_mid_run_resumes_without_requesting_twice(with_leads, sandbox, campaign, only_changed):
    sandbox.fail_next(1, code=607, path=TRIGGER, after=1)
    stopped = with_leads.run(KEY, {"campaign_id": campaign["id"], "only_changed": only_changed})
    assert stopped.status == "quota_exhausted" and stopped.counters == {"created": 100}
    assert len(sandbox.campaign_runs) == 1
    resumed = with_leads.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": ATTENDEES - 100}
    assert sorted(requested(sandbox)) == sorted(lead_ids(with_leads).values())  # each lead exactly once
