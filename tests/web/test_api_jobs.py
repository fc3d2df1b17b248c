"""/api/v1 jobs and runs: the same core functions and role rules as the Connectors and job pages."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from connectors.db import transaction
from connectors.models import Job, JobRun, Outbox, RunRecord

from .api_helpers import api, errors_of  # noqa: F401  (fixture)
from .conftest import add_job

SUBMIT = {"job_type": "testapp.import", "event": "EV1", "params": {"list_name": "Invitees", "attendee_type": "Attendee"}}


def _attendee_type(world):
    """The seed gives every event the standard attendee types (``Attendee`` among them)."""


@pytest.fixture
def jobs(world):
    with transaction(world.services.factory) as s:
        ids = {"ended": add_job(s, world.ids["acme"], world.ids["ev1"], world.ids["config"], "ended", run_status="succeeded"),
               "scheduled": add_job(s, world.ids["acme"], world.ids["ev1"], world.ids["config"], "scheduled"),
               "account": add_job(s, world.ids["acme"], None, world.ids["config"], "ended", run_status="failed",
                                  job_type="testapp.profiles")}
        run = s.scalar(select(JobRun).where(JobRun.job_id == ids["ended"]))
        s.add_all([RunRecord(run_id=run.id, record_key="a@x.test", outcome="failed", stage="map", code="bad_email",
                             message="not an e-mail"),
                   RunRecord(run_id=run.id, record_key="b@x.test", outcome="skipped", stage="match", code="duplicate",
                             message="duplicate e-mail"),
                   RunRecord(run_id=run.id, record_key="c@x.test", outcome="created")])
        ids["run"] = run.id
        ids["account_run"] = s.scalar(select(JobRun.id).where(JobRun.job_id == ids["account"]))
    return ids


@pytest.mark.parametrize("who,status", [(None, 401), ("bad", 401)])
def test_no_or_bad_token_is_401_everywhere(api, jobs, who, status):
    for method, url in [("GET", "/api/v1/jobs"), ("POST", "/api/v1/jobs"), ("GET", f"/api/v1/jobs/{jobs['ended']}"),
                        ("DELETE", f"/api/v1/jobs/{jobs['ended']}"), ("POST", f"/api/v1/runs/{jobs['run']}/cancel"),
                        ("GET", f"/api/v1/runs/{jobs['run']}/records"), ("GET", "/api/v1/plugin-configs")]:
        resp = api.call(method, url, who, json={})
        assert resp.status_code == status, (method, url)
        assert "authorization" in errors_of(resp)


def test_an_ingestion_token_is_not_a_user_token(api, world):
    from connectors.models import Account
    from connectors.tokens import create_token
    with transaction(world.services.factory) as s:
        token = create_token(s, s.get(Account, world.ids["acme"]), "platform")[1]
    resp = api.client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


def test_a_session_cookie_does_not_authorise_api_writes(api, jobs, world):
    from .conftest import csrf_token, login
    token = csrf_token(api.client.get("/login").get_data(as_text=True))
    assert login(api.client, "admin@acme.test", csrf_token=token).status_code == 302  # a real admin session
    assert api.client.get(f"/jobs/{jobs['scheduled']}").status_code == 200
    resp = api.client.post(f"/api/v1/jobs/{jobs['scheduled']}/disable")
    assert resp.status_code == 401
    with world.session() as s:
        assert s.get(Job, jobs["scheduled"]).enabled is True


def test_list_jobs_by_role(api, jobs):
    admin = api.call("GET", "/api/v1/jobs").get_json()
    assert {j["id"] for j in admin["jobs"]} == {jobs["ended"], jobs["scheduled"], jobs["account"]}
    assert admin["page"]["total"] == 3
    ended = next(j for j in admin["jobs"] if j["id"] == jobs["ended"])
    assert ended["event"] == "EV1" and ended["last_run"]["counters"]["created"] == 3
    builder = api.call("GET", "/api/v1/jobs", "builder").get_json()
    assert {j["id"] for j in builder["jobs"]} == {jobs["ended"], jobs["scheduled"]}
    assert api.call("GET", "/api/v1/jobs?scope=account", "builder").status_code == 403
    assert api.call("GET", "/api/v1/jobs?scope=account").get_json()["page"]["total"] == 1
    other = api.call("GET", "/api/v1/jobs", "other").get_json()
    assert jobs["ended"] not in {j["id"] for j in other["jobs"]}
    assert api.call("GET", "/api/v1/jobs?event=EV1", "other").status_code == 404


def test_list_jobs_filters_and_bad_filters(api, jobs):
    got = api.call("GET", "/api/v1/jobs?state=scheduled&event=EV1").get_json()
    assert [j["id"] for j in got["jobs"]] == [jobs["scheduled"]]
    resp = api.call("GET", "/api/v1/jobs?state=sleeping&per_page=0")
    assert resp.status_code == 400
    assert set(errors_of(resp)) == {"state", "per_page"}
    assert api.call("GET", "/api/v1/jobs?colour=red").status_code == 400


def test_submit_runs_now_through_the_core(api, world):
    _attendee_type(world)
    resp = api.call("POST", "/api/v1/jobs", "builder", json=SUBMIT)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["job"]["event"] == "EV1" and body["run"]["status"] == "queued"
    with world.session() as s:
        job = s.get(Job, body["job"]["id"])
        assert job.submitted_via == "api" and job.params["batch_size"] == 100
        assert s.scalar(select(Outbox).where(Outbox.payload["run_id"].as_integer() == body["run"]["id"])) is not None


def test_submit_names_each_bad_field(api, world):
    _attendee_type(world)
    bad = {**SUBMIT, "params": {"list_name": "x" * 101, "batch_size": 0, "attendee_type": "Nobody"},
           "schedule": {"mode": "sometimes"}}
    resp = api.call("POST", "/api/v1/jobs", json=bad)
    assert resp.status_code == 422
    errs = errors_of(resp)
    assert {"params.list_name", "params.batch_size", "params.attendee_type"} <= set(errs)
    assert any(k.startswith("schedule") for k in errs)
    assert errors_of(api.call("POST", "/api/v1/jobs", json={"event": "EV1"}))["job_type"]
    assert errors_of(api.call("POST", "/api/v1/jobs", json={**SUBMIT, "colour": 1}))["colour"]
    resp = api.call("POST", "/api/v1/jobs", data="not json", content_type="text/plain")
    assert resp.status_code == 400 and "body" in errors_of(resp)
    with world.session() as s:
        assert s.scalar(select(Job.id).where(Job.submitted_via == "api")) is None


def test_submit_account_level_is_for_administrators(api):
    body = {"job_type": "testapp.profiles", "params": {"list_name": "All"}}
    assert api.call("POST", "/api/v1/jobs", "builder", json=body).status_code == 403
    assert api.call("POST", "/api/v1/jobs", json=body).status_code == 201
    assert api.call("POST", "/api/v1/jobs", "other", json={**SUBMIT, "event": "EV1"}).status_code == 404


def test_get_job_by_role(api, jobs):
    assert api.call("GET", f"/api/v1/jobs/{jobs['ended']}", "builder").get_json()["state"] == "ended"
    assert api.call("GET", f"/api/v1/jobs/{jobs['account']}", "builder").status_code == 403
    assert api.call("GET", f"/api/v1/jobs/{jobs['ended']}", "other").status_code == 404
    assert "resource" in errors_of(api.call("GET", "/api/v1/jobs/999999"))


def test_run_now_enable_disable(api, jobs, world):
    url = f"/api/v1/jobs/{jobs['scheduled']}"
    assert api.call("POST", url + "/disable", "other").status_code == 404
    assert api.call("POST", url + "/disable", "builder").get_json()["enabled"] is False
    resp = api.call("POST", url + "/run", "builder")
    assert resp.status_code == 409 and "disabled" in errors_of(resp)["job"][0]
    assert api.call("POST", url + "/enable", "builder").get_json()["enabled"] is True
    run = api.call("POST", url + "/run", "builder")
    assert run.status_code == 201 and run.get_json()["status"] == "queued"
    assert api.call("POST", url + "/run", "builder").status_code == 409  # one run at a time
    assert api.call("POST", f"/api/v1/jobs/{jobs['account']}/run", "builder").status_code == 403


def test_cancel_a_queued_run(api, jobs, world):
    run_id = api.call("POST", f"/api/v1/jobs/{jobs['scheduled']}/run").get_json()["id"]
    assert api.call("POST", f"/api/v1/runs/{run_id}/cancel", "other").status_code == 404
    body = api.call("POST", f"/api/v1/runs/{run_id}/cancel", "builder").get_json()
    assert body["cancelled"] is True and body["run"]["status"] == "cancelled"
    assert api.call("POST", f"/api/v1/runs/{run_id}/cancel").get_json()["cancelled"] is False


def test_delete_and_clear(api, jobs, world):
    with transaction(world.services.factory) as s:
        running = add_job(s, world.ids["acme"], world.ids["ev1"], world.ids["config"], "running", run_status="running")
    resp = api.call("DELETE", f"/api/v1/jobs/{running}")
    assert resp.status_code == 409 and "queued or running" in errors_of(resp)["job"][0]
    assert api.call("DELETE", f"/api/v1/jobs/{jobs['ended']}", "other").status_code == 404
    assert api.call("DELETE", f"/api/v1/jobs/{jobs['account']}", "builder").status_code == 403
    assert api.call("DELETE", f"/api/v1/jobs/{jobs['ended']}", "builder").status_code == 204
    assert api.call("POST", "/api/v1/jobs/clear", "builder", json={}).status_code == 403
    assert api.call("POST", "/api/v1/jobs/clear", "other", json={"event": "EV1"}).status_code == 404
    assert api.call("POST", "/api/v1/jobs/clear", json={}).get_json() == {"removed": 1}
    with world.session() as s:
        assert {j.id for j in s.scalars(select(Job).where(Job.account_id == world.ids["acme"]))} == {jobs["scheduled"], running}


def test_runs_list_and_detail(api, jobs):
    runs = api.call("GET", "/api/v1/runs", "builder").get_json()["runs"]
    assert [r["id"] for r in runs] == [jobs["run"]]
    assert {r["id"] for r in api.call("GET", "/api/v1/runs").get_json()["runs"]} == {jobs["run"], jobs["account_run"]}
    assert api.call("GET", f"/api/v1/runs?job_id={jobs['ended']}", "other").status_code == 404
    detail = api.call("GET", f"/api/v1/runs/{jobs['run']}", "builder").get_json()
    assert detail["counters"] == {"created": 3, "updated": 2, "failed": 1}
    assert detail["progress"]["done"] == 6 and detail["progress"]["percent"] == 100
    assert detail["problems"] == 2
    assert api.call("GET", f"/api/v1/runs/{jobs['account_run']}", "builder").status_code == 403
    assert api.call("GET", f"/api/v1/runs/{jobs['run']}", "other").status_code == 404


def test_run_records_filtered(api, jobs):
    url = f"/api/v1/runs/{jobs['run']}/records"
    problems = api.call("GET", url, "builder").get_json()
    assert [r["record_key"] for r in problems["records"]] == ["a@x.test", "b@x.test"]
    assert [r["code"] for r in api.call("GET", url + "?outcome=skipped").get_json()["records"]] == ["duplicate"]
    assert [r["record_key"] for r in api.call("GET", url + "?text=NOT AN").get_json()["records"]] == ["a@x.test"]
    assert api.call("GET", url + "?outcome=created").status_code == 400  # only problems are listed
    assert errors_of(api.call("GET", url + "?show=hidden"))["show"]
    assert api.call("GET", url, "other").status_code == 404
    assert api.call("GET", f"/api/v1/runs/{jobs['account_run']}/records", "builder").status_code == 403


def test_events_list_by_role(api):
    assert [e["code"] for e in api.call("GET", "/api/v1/events", "builder").get_json()["events"]] == ["EV1", "EV2"]
    assert [e["code"] for e in api.call("GET", "/api/v1/events", "other").get_json()["events"]] == ["OEV"]
