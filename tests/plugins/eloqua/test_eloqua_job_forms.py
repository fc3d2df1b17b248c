"""The Eloqua import and contact-list jobs in the admin's New Job form: offered at their scope,
generated from their parameter schemas (the event's statuses and attendee types as choices),
refusing a bad submission next to the field, and writing the job of a good one."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

import connectors_eloqua.plugin as plugin
from connectors.config import Settings
from connectors.db import transaction
from connectors.models import Base, Job
from connectors.plugins import PluginManager
from connectors.seed import configure_plugin, get_or_create_account, get_or_create_event, get_or_create_user
from connectors.services import Services
from connectors.web import create_app
from connectors_eloqua.jobs.contact_list import KEY as LIST_KEY
from connectors_eloqua.jobs.import_contacts import PROFILES_KEY, REGISTRATIONS_KEY

NEW_EVENT_JOB = "/events/EV1/connectors/new"
NEW_ACCOUNT_JOB = "/account/connectors/new"


@pytest.fixture
def admin(tmp_path):
    settings = Settings(instance_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'web.db'}", secret_key="test-key")
    registry = PluginManager()
    assert registry.add("eloqua", plugin), registry.load_errors
    services = Services.from_settings(settings, registry)
    Base.metadata.create_all(services.engine)
    with transaction(services.factory) as s:
        account = get_or_create_account(s, "ACME", "Acme Events")
        get_or_create_event(s, account, "EV1", "Event One", tz="Europe/Paris")
        get_or_create_user(s, account, "admin@acme.test", "Ada Admin", "administrator", "admin-pw")
        configure_plugin(s, registry, services.box, account, "eloqua",
                         {"site": "DemoCompany", "username": "demo.user", "password": "demo-password"})
    app = create_app(services, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"login": "admin@acme.test", "password": "admin-pw"}).status_code == 302
    yield client, services
    services.close()


def errors_of(html: str, field_id: str) -> list[str]:
    match = re.search(rf'<ul class="errors" id="{field_id}-errors">(.*?)</ul>', html, re.S)
    return [unescape(e) for e in re.findall(r"<li>(.*?)</li>", match.group(1))] if match else []


def jobs(services) -> list[Job]:
    with services.factory() as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


def test_the_jobs_are_offered_at_their_scope(admin):
    client, _ = admin
    event_page = client.get(NEW_EVENT_JOB + "?application=eloqua").get_data(as_text=True)
    assert "Import Eloqua Contacts as Registrations" in event_page and "Update Eloqua Contact List" in event_page
    assert "Import Eloqua Contacts as Profiles" not in event_page
    account_page = client.get(NEW_ACCOUNT_JOB + "?application=eloqua").get_data(as_text=True)
    assert "Import Eloqua Contacts as Profiles" in account_page
    assert "Import Eloqua Contacts as Registrations" not in account_page


def test_import_form_offers_the_events_statuses_and_attendee_types(admin):
    client, _ = admin
    html = client.get(f"{NEW_EVENT_JOB}?application=eloqua&job_type={REGISTRATIONS_KEY}").get_data(as_text=True)
    for field_id in ("p_contact_list_id", "p_contact_list_name", "p_segment_id", "p_filter", "p_incremental",
                     "p_update_profiles", "p_page_size", "p_max_records", "p_overwrite_status"):
        assert f'id="{field_id}"' in html, field_id
    statuses = re.search(r'<select[^>]*id="p_status_label".*?</select>', html, re.S).group(0)
    assert all(f'value="{s}"' in statuses for s in ("New", "Invited", "Attended")) and "selected" in statuses
    types = re.search(r'<select[^>]*id="p_attendee_type_code".*?</select>', html, re.S).group(0)
    assert all(f'value="{t}"' in types for t in ("Attendee", "Speaker", "VIP"))
    assert re.search(r'<input[^>]*id="p_page_size"[^>]*max="50000"', html)


def test_import_form_refuses_no_source_and_two_sources_next_to_the_field(admin):
    client, services = admin
    form = f"{NEW_EVENT_JOB}?application=eloqua&job_type={REGISTRATIONS_KEY}"
    base = {"name": "Invitees", "run_mode": "now", "timezone": "UTC", "p_status_label": "New",
            "p_attendee_type_code": "Attendee", "p_page_size": "5000"}
    none = client.post(form, data=base)
    assert none.status_code == 422
    assert errors_of(none.get_data(as_text=True), "p_contact_list_id") == [
        "Give a contact list (id or name), a segment id or a filter."]
    both = client.post(form, data={**base, "p_contact_list_id": "101", "p_segment_id": "7"})
    assert errors_of(both.get_data(as_text=True), "p_segment_id") == [
        "Give one of the contact list id, the contact list name or the segment id."]
    assert jobs(services) == []
    good = client.post(form, data={**base, "p_contact_list_name": "SUMMIT26 Invitees", "p_incremental": "y"})
    assert good.status_code == 302
    (job,) = jobs(services)
    assert job.job_type == REGISTRATIONS_KEY and job.params["contact_list_name"] == "SUMMIT26 Invitees"
    assert job.params["incremental"] is True and job.params["update_profiles"] is False  # unticked box


def test_profiles_form_at_account_level(admin):
    client, services = admin
    form = f"{NEW_ACCOUNT_JOB}?application=eloqua&job_type={PROFILES_KEY}"
    html = client.get(form).get_data(as_text=True)
    assert '<label for="p_segment_id">' in html and "p_status_label" not in html
    answer = client.post(form, data={"name": "Prospects", "run_mode": "now", "timezone": "UTC", "p_segment_id": "7",
                                     "p_page_size": "1000", "p_update_profiles": "y"})
    assert answer.status_code == 302
    (job,) = jobs(services)
    assert job.event_id is None and job.params["segment_id"] == 7 and job.params["page_size"] == 1000


def test_contact_list_form_offers_status_checkboxes_and_modes(admin):
    client, services = admin
    form = f"{NEW_EVENT_JOB}?application=eloqua&job_type={LIST_KEY}"
    html = client.get(form).get_data(as_text=True)
    statuses = re.search(r'<div class="options" id="p_status_labels">.*?</div>', html, re.S).group(0)
    assert all(re.search(rf'<input[^>]*type="checkbox"[^>]*value="{s}"', statuses) for s in ("New", "Attended"))
    assert re.search(r'<select[^>]*id="p_mode"', html) and 'value="sync"' in html
    base = {"name": "Registered list", "run_mode": "now", "timezone": "UTC", "p_mode": "sync"}
    refused = client.post(form, data=base)
    assert refused.status_code == 422
    assert errors_of(refused.get_data(as_text=True), "p_contact_list_id") == [
        "Give the contact list's id or its name (one of them)."]
    unknown = client.post(form, data={**base, "p_contact_list_id": "101", "p_status_labels": ["Atended"]})
    assert unknown.status_code == 422
    good = client.post(form, data={**base, "p_contact_list_name": "SUMMIT26 Registered",
                                   "p_status_labels": ["New", "Attended"], "p_attendee_types": ["VIP"]})
    assert good.status_code == 302
    (job,) = jobs(services)
    assert job.params == {"contact_list_id": None, "contact_list_name": "SUMMIT26 Registered", "mode": "sync",
                          "status_labels": ["New", "Attended"], "attendee_types": ["VIP"]}
