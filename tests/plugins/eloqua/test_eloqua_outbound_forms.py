"""The outbound Eloqua jobs in the admin's New Job form: offered for an event, their parameters
rendered from the schemas (status and attendee-type filters as the event's checkboxes), and a
submission validated — bad values named on their fields, good ones stored as the job's params."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from connectors.models import Job
from connectors_eloqua.jobs import create_update_contacts, engagement, interest

from .test_eloqua_job_forms import admin as web_admin, errors_of  # noqa: F401 - the fixture, shared

NEW = "/events/EV1/connectors/new"
JOBS = {create_update_contacts.KEY: "Create or Update Contacts in Eloqua",
        engagement.KEY: "Upload Engagement Metrics to Eloqua", interest.KEY: "Upload Interest Metrics to Eloqua"}


@pytest.fixture
def admin(web_admin):
    client, services = web_admin
    client.services = services
    return client


def test_the_event_form_offers_the_outbound_jobs_with_the_events_filters(admin):
    html = admin.get(NEW + "?application=eloqua").get_data(as_text=True)
    assert all(label in html for label in JOBS.values())
    for key in JOBS:
        form = admin.get(f"{NEW}?application=eloqua&job_type={key}").get_data(as_text=True)
        statuses = re.search(r'id="p_status_labels".*?</div>', form, re.S).group(0)
        assert 'type="checkbox"' in statuses and 'value="Attended"' in statuses and 'value="Cancelled"' in statuses
        assert 'value="Speaker"' in re.search(r'id="p_attendee_types".*?</div>', form, re.S).group(0)
        assert re.search(r'<input[^>]*id="p_batch_size"[^>]*max="50000"[^>]*min="1"', form)
    form = admin.get(f"{NEW}?application=eloqua&job_type={create_update_contacts.KEY}").get_data(as_text=True)
    assert re.search(r'<select[^>]*id="p_update_rule"', form) and '<option selected value="always">' in form
    form = admin.get(f"{NEW}?application=eloqua&job_type={interest.KEY}").get_data(as_text=True)
    assert 'value="Certain Event Interest"' in form and re.search(r'<input[^>]*id="p_attended_weight"[^>]*value="2"', form)


def test_a_bad_submission_names_its_fields_and_a_good_one_stores_the_params(admin):
    url = f"{NEW}?application=eloqua&job_type={create_update_contacts.KEY}"
    base = {"name": "Contacts to Eloqua", "run_mode": "now", "timezone": "Europe/Paris", "p_incremental": "y"}
    bad = admin.post(url, data={**base, "p_update_rule": "sometimes", "p_batch_size": "0",
                                "p_status_labels": ["Attended", "Astronaut"]})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert errors_of(html, "p_update_rule") and errors_of(html, "p_batch_size")
    assert any("Astronaut" in e for e in errors_of(html, "p_status_labels"))
    good = admin.post(url, data={**base, "p_update_rule": "ifNewIsNotNull", "p_batch_size": "2000",
                                 "p_contact_list": "SUMMIT26 Invitees", "p_status_labels": ["Attended", "New"],
                                 "p_attendee_types": ["Speaker"]})
    assert good.status_code == 302, good.get_data(as_text=True)[:2000]
    with admin.services.factory() as s:
        job = s.scalar(select(Job).where(Job.name == "Contacts to Eloqua"))
        assert job.job_type == create_update_contacts.KEY
        assert job.params == {"update_rule": "ifNewIsNotNull", "batch_size": 2000, "contact_list": "SUMMIT26 Invitees",
                              "status_labels": ["Attended", "New"], "attendee_types": ["Speaker"], "incremental": True}
    metrics = admin.post(f"{NEW}?application=eloqua&job_type={interest.KEY}",
                         data={**base, "name": "Interest", "p_custom_object": "Certain Event Interest",
                               "p_attended_weight": "3", "p_registered_weight": "1", "p_agenda_weight": "0",
                               "p_batch_size": "5000"})
    assert metrics.status_code == 302
    weighted = admin.post(f"{NEW}?application=eloqua&job_type={interest.KEY}",
                          data={**base, "name": "Bad weights", "p_custom_object": "", "p_attended_weight": "-1",
                                "p_registered_weight": "1", "p_agenda_weight": "1", "p_batch_size": "5000"})
    assert weighted.status_code == 422 and errors_of(weighted.get_data(as_text=True), "p_attended_weight")
