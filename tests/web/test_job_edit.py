"""Edit schedule and Delete, on the job page and through the API: the next fire times follow the new
schedule, bad input is refused next to its field, a job with a run going is kept, and the role
rules hold (a builder of another event, another account: 404; a builder on an account job: 403)."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from connectors.db import transaction
from connectors.event_access import assign_event
from connectors.models import Account, AuditEntry, Event, Job, JobRun, RunRecord
from connectors.seed import get_or_create_user

from .api_helpers import api, errors_of  # noqa: F401  (fixture)
from .conftest import add_job, csrf_token, login, make_app

WEEKDAYS = {"run_mode": "recurring", "frequency": "weekly", "interval": "1", "days_of_week": ["MO", "TU", "WE", "TH", "FR"],
            "time_of_day": "02:00", "start_at": "2030-05-01T00:00", "end_at": "2030-06-30T23:00", "timezone": "Europe/Paris"}


def _job(world, state="scheduled", run_status=None, event="ev1") -> int:
    ids = world.ids
    with transaction(world.services.factory) as s:
        return add_job(s, ids["acme"], ids[event] if event else None, ids["config"], state, run_status=run_status,
                       name="Nightly import", job_type="testapp.import" if event else "testapp.profiles")


def _next_runs(html: str) -> list[str]:
    block = re.search(r'<ol class="next-runs" id="next-runs">(.*?)</ol>', html, re.S)
    return re.findall(r'<time datetime="([^"]+)">', block.group(1)) if block else []


def test_the_form_edits_the_schedule_and_the_job_page_lists_the_next_runs(admin, world):
    job = _job(world)
    assert _next_runs(admin.get(f"/jobs/{job}").get_data(as_text=True)) == []
    form = admin.get(f"/jobs/{job}/schedule").get_data(as_text=True)
    assert 'id="edit-schedule-form"' in form and re.search(r'<option selected value="Europe/Paris">', form)
    response = admin.post(f"/jobs/{job}/schedule", data=WEEKDAYS, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ("Schedule changed: Every weekday at 02:00 Europe/Paris, from 1 May 2030 until 30 June 2030. "
            "Next run: 2030-05-01 02:00 CEST.") in html
    # Wed 1, Thu 2, Fri 3, (weekend), Mon 6, Tue 7 May 2030, 02:00 in Paris = 00:00 UTC
    assert _next_runs(html) == ["2030-05-01T00:00:00Z", "2030-05-02T00:00:00Z", "2030-05-03T00:00:00Z",
                                "2030-05-06T00:00:00Z", "2030-05-07T00:00:00Z"]
    again = admin.get(f"/jobs/{job}/schedule").get_data(as_text=True)  # the form shows what is stored
    assert 'value="2030-05-01T00:00"' in again and 'value="02:00"' in again and "<option selected value=\"weekly\">" in again
    with world.session() as s:
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "job.schedule_update")) == "admin@acme.test"


def test_bad_input_is_refused_next_to_its_field(admin, world):
    job = _job(world)
    response = admin.post(f"/jobs/{job}/schedule", data={**WEEKDAYS, "time_of_day": "9am"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "The schedule was not changed." in html
    assert re.search(r'id="time_of_day-errors"><li>Not a valid time of day \(HH:MM\).</li>', html)
    html = admin.post(f"/jobs/{job}/schedule", data={**WEEKDAYS, "end_at": "2030-04-01T00:00"}).get_data(as_text=True)
    assert re.search(r'id="end_at-errors"><li>Must be after start_at.</li>', html)
    response = admin.post(f"/jobs/{job}/schedule", data={"run_mode": "at", "run_at": "2020-01-01T10:00", "timezone": "UTC"})
    assert response.status_code == 422
    assert "Must be in the future; to run it now, use “Run now”." in response.get_data(as_text=True)
    with world.session() as s:
        assert s.get(Job, job).schedule.mode == "once" and s.get(Job, job).schedule.rrule is None


def test_the_edit_form_needs_its_csrf_token(world):
    job = _job(world)
    client = make_app(world, WTF_CSRF_ENABLED=True).test_client()
    assert login(client, "admin@acme.test", csrf_token=csrf_token(client.get("/login").get_data(as_text=True))).status_code == 302
    assert client.post(f"/jobs/{job}/schedule", data=WEEKDAYS).status_code == 400
    token = csrf_token(client.get(f"/jobs/{job}/schedule").get_data(as_text=True))
    assert client.post(f"/jobs/{job}/schedule", data={**WEEKDAYS, "csrf_token": token}).status_code == 302


def test_a_builder_edits_only_the_jobs_of_their_events(app, world):
    ev1_job, account_job = _job(world), _job(world, event=None)
    with transaction(world.services.factory) as s:
        bea = get_or_create_user(s, s.get(Account, world.ids["acme"]), "bea@acme.test", "Bea", "event_builder", "bea-pw")
        assign_event(s, bea, s.get(Event, world.ids["ev2"]))
    bea_client = app.test_client()
    assert login(bea_client, "bea@acme.test", "bea-pw").status_code == 302
    assert bea_client.get(f"/jobs/{ev1_job}/schedule").status_code == 404
    assert bea_client.post(f"/jobs/{ev1_job}/schedule", data=WEEKDAYS).status_code == 404
    assert bea_client.post(f"/jobs/{ev1_job}/delete").status_code == 404
    ben = app.test_client()
    assert login(ben, "builder@acme.test").status_code == 302
    assert ben.post(f"/jobs/{account_job}/schedule", data=WEEKDAYS).status_code == 403
    assert ben.post(f"/jobs/{account_job}/delete").status_code == 403
    assert ben.post(f"/jobs/{ev1_job}/schedule", data=WEEKDAYS).status_code == 302  # their own event's job
    with world.session() as s:
        assert s.get(Job, account_job).schedule.mode == "once" and s.get(Job, account_job) is not None


def test_delete_is_refused_while_a_run_is_going(admin, world):
    job = _job(world, "running", run_status="running")
    page = admin.get(f"/jobs/{job}").get_data(as_text=True)
    assert "Delete job" not in page  # not offered while the run goes
    response = admin.post(f"/jobs/{job}/delete", follow_redirects=True)
    assert ("“Nightly import” was not deleted: a run of this job is queued or running: cancel it, or wait until it "
            "ends, then delete the job.") in response.get_data(as_text=True)
    with world.session() as s:
        assert s.get(Job, job) is not None


def test_delete_removes_the_job_with_its_runs_and_returns_to_the_list(admin, world):
    job = _job(world, "ended", run_status="succeeded")
    with transaction(world.services.factory) as s:
        s.add(RunRecord(run_id=s.scalar(select(JobRun.id).where(JobRun.job_id == job)), record_key="a@x.test",
                        outcome="failed"))
    assert "Delete job" in admin.get(f"/jobs/{job}").get_data(as_text=True)
    response = admin.post(f"/jobs/{job}/delete", data={"next": f"/jobs/{job}"})
    assert response.headers["Location"] == "/events/EV1/connectors"  # not the page of the job just deleted
    assert "Job “Nightly import” deleted with its 1 run." in admin.get("/events/EV1/connectors").get_data(as_text=True)
    with world.session() as s:
        assert s.get(Job, job) is None
        assert s.scalar(select(func.count(JobRun.id))) == 1  # OTHER's job's run only
        assert s.scalar(select(func.count(RunRecord.id))) == 0
    assert admin.get(f"/jobs/{job}").status_code == 404


def test_another_accounts_job_is_404(admin, world):
    other = world.ids["other_job"]
    assert admin.get(f"/jobs/{other}/schedule").status_code == 404
    assert admin.post(f"/jobs/{other}/delete").status_code == 404


def test_disabled_job_lists_no_next_runs(admin, world):
    job = _job(world)
    admin.post(f"/jobs/{job}/schedule", data=WEEKDAYS)
    admin.post(f"/jobs/{job}/disable")
    html = admin.get(f"/jobs/{job}").get_data(as_text=True)
    assert _next_runs(html) == [] and "None while the job is disabled." in html


# -- the API: the same through PATCH and DELETE -----------------------------------------------------------

API_WEEKDAYS = {"mode": "recurring", "frequency": "weekly", "days_of_week": ["MO", "TU", "WE", "TH", "FR"],
                "time_of_day": "02:00", "start_at": "2030-05-01T00:00:00", "end_at": "2030-06-30T23:00:00"}


def test_api_patch_edits_the_schedule_with_the_same_rules(api, world):
    job, account_job = _job(world), _job(world, event=None)
    resp = api.call("PATCH", f"/api/v1/jobs/{job}", "builder", json={"schedule": API_WEEKDAYS})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["schedule"] == "Every weekday at 02:00 Europe/Paris, from 1 May 2030 until 30 June 2030"
    assert body["next_runs"][:4] == ["2030-05-01T00:00:00+00:00", "2030-05-02T00:00:00+00:00",
                                     "2030-05-03T00:00:00+00:00", "2030-05-06T00:00:00+00:00"]
    bad = api.call("PATCH", f"/api/v1/jobs/{job}", json={"schedule": {**API_WEEKDAYS, "interval": 0, "timezone": "Mars"}})
    assert bad.status_code == 422
    assert errors_of(bad) == {"schedule.interval": ["Must be greater than or equal to 1."],
                              "schedule.timezone": ["Unknown time zone 'Mars'."]}
    bad = api.call("PATCH", f"/api/v1/jobs/{job}", json={"schedule": {**API_WEEKDAYS, "end_at": "2030-01-01T00:00:00"}})
    assert errors_of(bad) == {"schedule.end_at": ["Must be after start_at."]}
    assert errors_of(api.call("PATCH", f"/api/v1/jobs/{job}", json={"schedule": API_WEEKDAYS, "name": "x"}))["name"]
    assert api.call("PATCH", f"/api/v1/jobs/{job}", "other", json={"schedule": API_WEEKDAYS}).status_code == 404
    assert api.call("PATCH", f"/api/v1/jobs/{account_job}", "builder", json={"schedule": API_WEEKDAYS}).status_code == 403
    assert api.call("PATCH", f"/api/v1/jobs/{account_job}", json={"schedule": API_WEEKDAYS}).status_code == 200


def test_api_delete_refuses_a_running_job_and_removes_others(api, world):
    running, scheduled = _job(world, "running", run_status="running"), _job(world)
    resp = api.call("DELETE", f"/api/v1/jobs/{running}", "builder")
    assert resp.status_code == 409 and "queued or running" in errors_of(resp)["job"][0]
    assert api.call("DELETE", f"/api/v1/jobs/{scheduled}", "other").status_code == 404
    assert api.call("DELETE", f"/api/v1/jobs/{scheduled}", "builder").status_code == 204
    with world.session() as s:
        assert s.get(Job, scheduled) is None and s.get(Job, running) is not None
