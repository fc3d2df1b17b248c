"""/api/v1 problems actions: retry (a new run of only the keys asked for), dismiss and the CSV, with
the problems view's filter and role rules; and a retry asked through the API, run against the
Marketo sandbox, that reads only the one lead asked for."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.models import Job, JobRun, Outbox, RunRecord
from connectors_marketo.client import MarketoClient
from connectors_marketo.jobs import import_registrations

from .api_helpers import api, errors_of  # noqa: F401  (fixture)
from .conftest import add_job
from .test_api_marketo_round_trip import api as marketo_api, marketo, sandbox  # noqa: F401  (fixtures)
from .test_problems import open_ids, run_with_problems

KEY = "lead-1@example.com"


@pytest.fixture
def problem_run(world) -> dict[str, int]:
    """An ended event job whose run has 3 failed (stage load) and 2 skipped (stage read) records."""
    job_id, run_id = run_with_problems(world)
    return {"job": job_id, "run": run_id}


def retry_runs(world, job_id: int) -> list[JobRun]:
    with world.session() as s:
        return list(s.scalars(select(JobRun).where(JobRun.job_id == job_id, JobRun.trigger == "retry")))


def test_retry_of_one_key_queues_a_run_of_exactly_that_key(api, world, problem_run):
    resp = api.call("POST", f"/api/v1/runs/{problem_run['run']}/retry", json={"keys": [KEY]})
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    (retry,) = retry_runs(world, problem_run["job"])
    assert (retry.status, retry.retry_of_id, retry.retry_keys) == ("queued", problem_run["run"], [KEY])
    assert body["id"] == retry.id and resp.headers["Location"].endswith(f"/api/v1/runs/{retry.id}")
    assert (body["status"], body["trigger"], body["retry_of"], body["key_count"], body["keys"]) == (
        "queued", "retry", problem_run["run"], 1, [KEY])
    with world.session() as s:  # handed to the workers like any run
        assert s.scalar(select(Outbox).where(Outbox.message_id == f"run_{retry.id}_0")) is not None
    shown = api.call("GET", f"/api/v1/runs/{retry.id}").get_json()
    assert shown["log"][0]["message"].startswith(f"retry of 1 record of run #{problem_run['run']}")
    assert (shown["retry_of"], shown["retry_keys"]) == (problem_run["run"], [KEY])
    original = api.call("GET", f"/api/v1/runs/{problem_run['run']}").get_json()
    assert (original["retry_of"], original["retry_keys"]) == (None, None)
    # while it is queued, another retry is refused with the core's reason
    again = api.call("POST", f"/api/v1/runs/{problem_run['run']}/retry", json={"filter": {}})
    assert again.status_code == 409
    assert errors_of(again)["state"] == ["a run of this job is already queued or running: retry when it has ended"]
    assert len(retry_runs(world, problem_run["job"])) == 1


def test_retry_by_filter_takes_the_matching_keys_as_the_page_does(api, world, problem_run):
    run = problem_run["run"]
    assert api.call("POST", f"/api/v1/runs/{run}/dismiss", json={"keys": ["lead-0@example.com"]}).status_code == 200
    resp = api.call("POST", f"/api/v1/runs/{run}/retry", json={"filter": {"stage": "load"}})
    assert resp.status_code == 202 and resp.get_json()["keys"] == ["lead-1@example.com", "lead-2@example.com"]
    with world.session() as s, s.begin():
        s.get(JobRun, resp.get_json()["id"]).status = "succeeded"
    # a dismissed problem is retried when the filter shows it, or when named by key
    resp = api.call("POST", f"/api/v1/runs/{run}/retry", json={"filter": {"stage": "load", "show": "all"}})
    assert resp.get_json()["key_count"] == 3
    assert [r.retry_keys for r in retry_runs(world, problem_run["job"])][-1] == [f"lead-{i}@example.com" for i in range(3)]


def test_refusals_say_why_and_queue_nothing(api, world, problem_run, monkeypatch):
    from connectors.jobs import problems  # noqa: PLC0415

    run = problem_run["run"]
    nothing = api.call("POST", f"/api/v1/runs/{run}/retry", json={"filter": {"code": "NO_SUCH_CODE"}})
    assert nothing.status_code == 422 and errors_of(nothing) == {"filter": ["no records to retry"]}
    monkeypatch.setattr(problems, "MAX_RETRY_KEYS", 2)
    many = api.call("POST", f"/api/v1/runs/{run}/retry", json={"filter": {}})
    assert many.status_code == 422
    assert errors_of(many)["filter"] == ["5 records are more than one retry takes (2): narrow the filter, or run the "
                                         "whole job again with Run now"]
    with world.session() as s, s.begin():
        s.get(Job, problem_run["job"]).enabled = False
    disabled = api.call("POST", f"/api/v1/runs/{run}/retry", json={"keys": [KEY]})
    assert disabled.status_code == 409 and errors_of(disabled) == {"state": ["the job is disabled: enable it before retrying"]}
    assert retry_runs(world, problem_run["job"]) == []


@pytest.mark.parametrize("action", ["retry", "dismiss"])
@pytest.mark.parametrize("body,field", [
    ({}, "keys"),
    ({"keys": []}, "keys"),
    ({"keys": "lead-1@example.com"}, "keys"),
    ({"keys": [""]}, "keys.0"),
    ({"keys": [KEY], "filter": {}}, "filter"),
    ({"keys": [KEY, "nobody@example.com"]}, "keys.1"),
    ({"filter": {"outcome": "created"}}, "filter.outcome"),
    ({"filter": {"show": "everything"}}, "filter.show"),
    ({"filter": {"page": 2}}, "filter.page"),
    ({"filter": {}, "all": True}, "all"),
])
def test_a_bad_body_is_422_naming_the_field_and_changes_nothing(api, world, problem_run, action, body, field):
    resp = api.call("POST", f"/api/v1/runs/{problem_run['run']}/{action}", json=body)
    assert resp.status_code == 422, resp.get_json()
    errors = errors_of(resp)
    assert list(errors) == [field] and errors[field][0]
    assert retry_runs(world, problem_run["job"]) == [] and len(open_ids(world, problem_run["run"])) == 5


def test_a_body_that_is_not_a_json_object_is_400(api, problem_run):
    resp = api.call("POST", f"/api/v1/runs/{problem_run['run']}/retry", data="keys=x",
                    content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 400 and "body" in errors_of(resp)


def test_dismiss_by_keys_and_by_filter(api, world, problem_run):
    run = problem_run["run"]
    url = f"/api/v1/runs/{run}/dismiss"
    assert api.call("POST", url, json={"keys": [KEY, KEY]}).get_json() == {"dismissed": 1, "open": 4}
    assert api.call("POST", url, json={"keys": [KEY]}).get_json() == {"dismissed": 0, "open": 4}  # already
    assert api.call("POST", url, json={"filter": {"outcome": "skipped"}}).get_json() == {"dismissed": 2, "open": 2}
    dismissed = api.call("GET", f"/api/v1/runs/{run}/records?show=dismissed").get_json()
    assert dismissed["page"]["total"] == 3 and {r["dismissed_by"] for r in dismissed["records"]} == {"Ada Admin"}
    assert api.call("GET", f"/api/v1/runs/{run}").get_json()["problems"] == 2
    with world.session() as s:  # still counted: dismissing hides, never deletes
        assert s.scalar(select(func.count()).where(RunRecord.run_id == run)) == 5


def test_csv_download_filtered_and_escaped(api, problem_run):
    resp = api.call("GET", f"/api/v1/runs/{problem_run['run']}/records.csv?outcome=skipped")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert f'filename="run-{problem_run["run"]}-problems.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == ["record", "outcome", "stage", "code", "message", "dismissed_at", "dismissed_by"]
    assert len(rows) == 3 and rows[1][:5] == ["'=HYPERLINK(\"x\",\"0\")", "skipped", "read", "missing_required",
                                               "'-no email"]
    bad = api.call("GET", f"/api/v1/runs/{problem_run['run']}/records.csv?outcome=created&page=2")
    assert bad.status_code == 400 and set(errors_of(bad)) == {"outcome", "page"}


def test_builders_act_on_their_events_runs_only_and_other_accounts_get_404(api, world, problem_run):
    run = problem_run["run"]
    assert api.call("POST", f"/api/v1/runs/{run}/retry", "builder", json={"keys": [KEY]}).status_code == 202
    assert api.call("POST", f"/api/v1/runs/{run}/dismiss", "builder", json={"filter": {}}).get_json()["dismissed"] == 5
    with transaction(world.services.factory) as s:
        account_job = add_job(s, world.ids["acme"], None, world.ids["config"], "ended", run_status="partially_failed",
                              job_type="testapp.profiles")
        account_run = s.scalar(select(JobRun.id).where(JobRun.job_id == account_job))
        s.add(RunRecord(run_id=account_run, record_key="p@x.test", outcome="failed", stage="load", code="bad"))
    for action, body in (("retry", {"keys": ["p@x.test"]}), ("dismiss", {"filter": {}})):
        refused = api.call("POST", f"/api/v1/runs/{account_run}/{action}", "builder", json=body)
        assert refused.status_code == 403 and "role" in errors_of(refused)
        hidden = api.call("POST", f"/api/v1/runs/{run}/{action}", "other", json=body)
        assert hidden.status_code == 404 and "resource" in errors_of(hidden)
    assert api.call("GET", f"/api/v1/runs/{account_run}/records.csv", "builder").status_code == 403
    assert api.call("GET", f"/api/v1/runs/{run}/records.csv", "other").status_code == 404
    assert retry_runs(world, account_job) == [] and len(retry_runs(world, problem_run["job"])) == 1
    assert open_ids(world, account_run) != []


def test_the_openapi_document_lists_the_actions_with_their_schemas(api):
    spec = api.call("GET", "/api/v1/openapi.json", "builder").get_json()
    schemas = spec["components"]["schemas"]
    name = lambda node: node["$ref"].rsplit("/", 1)[1]  # noqa: E731
    for action, ok, answer in (("retry", "202", "RetryOut"), ("dismiss", "200", "DismissOut")):
        op = spec["paths"][f"/api/v1/runs/{{run_id}}/{action}"]["post"]
        assert name(op["requestBody"]["content"]["application/json"]["schema"]) == "ProblemChoice"
        assert name(op["responses"][ok]["content"]["application/json"]["schema"]) == answer
        assert {"400", "401", "403", "404", "422"} <= set(op["responses"])
    assert "409" in spec["paths"]["/api/v1/runs/{run_id}/retry"]["post"]["responses"]
    assert set(schemas["ProblemChoice"]["properties"]) == {"keys", "filter"}
    assert set(schemas["ProblemFilterIn"]["properties"]) == {"outcome", "stage", "code", "text", "show"}
    assert {"id", "status", "retry_of", "key_count", "keys"} <= set(schemas["RetryOut"]["properties"])
    download = spec["paths"]["/api/v1/runs/{run_id}/records.csv"]["get"]
    assert list(download["responses"]["200"]["content"]) == ["text/csv"]
    assert {p["name"] for p in download["parameters"]} == {"run_id", "outcome", "stage", "code", "text", "show"}
    page = api.call("GET", "/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/runs/{run_id}/retry" in page and "/api/v1/runs/{run_id}/records.csv" in page and "text/csv" in page


def test_a_retry_asked_through_the_api_reads_only_that_lead_from_the_sandbox(marketo, marketo_api, sandbox):
    leads = sandbox.add_leads([{"email": f"guest{i}@example.com", "firstName": f"G{i}", "lastName": "Guest"}
                               for i in range(4)] + [{"firstName": "No", "lastName": "Mail"}, {"firstName": "Nor"}])
    sandbox.add_list("API retry guests", [lead["id"] for lead in leads])
    first = marketo.run(import_registrations.KEY, {"static_list_name": "API retry guests"})
    assert first.status == "succeeded" and first.counters == {"created": 4, "skipped": 2}
    asked = f"lead {leads[4]['id']}"
    listed = marketo_api("GET", f"/api/v1/runs/{first.run_id}/records").get_json()["records"]
    assert asked in {r["record_key"] for r in listed}

    MarketoClient.from_connection(sandbox.connection).sync_leads(
        [{"id": leads[4]["id"], "email": "found@example.com"}], action="updateOnly", lookup_field="id")
    resp = marketo_api("POST", f"/api/v1/runs/{first.run_id}/retry", json={"keys": [asked]})
    assert resp.status_code == 202, resp.get_json()
    mark = len(sandbox.journal)
    again = marketo.execute(resp.get_json()["id"])
    assert again.status == "succeeded" and again.counters == {"created": 1}
    reads = [(c.path, c.param("filterType"), c.param("filterValues")) for c in sandbox.journal.entries()[mark:]
             if c.path.startswith("/rest/v1/lists/") or c.path == "/rest/v1/leads.json"]
    assert reads == [("/rest/v1/leads.json", "id", str(leads[4]["id"]))]  # one lead, not the list
    assert "found@example.com" in {r["email"] for r in marketo.registrations()}
    ran = marketo_api("GET", f"/api/v1/runs/{again.run_id}").get_json()
    assert ran["status"] == "succeeded" and ran["problems"] == 0
