"""The problems view of a run: filters, pages, CSV download, retry and dismiss, each action a
CSRF-protected POST limited to people who may see the run."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from connectors.models import JobRun, Outbox, RunRecord, utcnow

from .conftest import add_job, csrf_token, login, make_app


def run_with_problems(world, n_failed: int = 3, n_skipped: int = 2, event: str = "ev1") -> tuple[int, int]:
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids[event], ids["config"], "ended", name="Lead import")
        run = JobRun(job_id=job_id, status="partially_failed", started_at=utcnow(), ended_at=utcnow(),
                     counters={"created": 10, "failed": n_failed, "skipped": n_skipped}, log=[])
        s.add(run)
        s.flush()
        s.add_all([RunRecord(run_id=run.id, record_key=f"lead-{i}@example.com", outcome="failed", stage="load",
                             code="INVALID_EMAIL", message=f"email {i} is not valid") for i in range(n_failed)])
        s.add_all([RunRecord(run_id=run.id, record_key=f"=HYPERLINK(\"x\",\"{i}\")", outcome="skipped", stage="read",
                             code="missing_required", message="-no email") for i in range(n_skipped)])
        return job_id, run.id


def open_ids(world, run_id: int) -> list[int]:
    with world.session() as s:
        return list(s.scalars(select(RunRecord.id).where(RunRecord.run_id == run_id, RunRecord.dismissed_at.is_(None))
                              .order_by(RunRecord.id)))


def test_problems_view_filters_and_pages(admin, world):
    job_id, run_id = run_with_problems(world, n_failed=60, n_skipped=2)
    html = admin.get(f"/runs/{run_id}/problems").get_data(as_text=True)
    assert "62 records" in html and "Page 1 of 2" in html and "lead-49@example.com" in html
    assert "lead-50@example.com" not in html and f"/runs/{run_id}/problems?page=2" in html
    html = admin.get(f"/runs/{run_id}/problems?page=2").get_data(as_text=True)
    assert "lead-50@example.com" in html and "HYPERLINK" in html
    html = admin.get(f"/runs/{run_id}/problems?outcome=skipped").get_data(as_text=True)
    assert "2 records matching" in html and "lead-1@" not in html
    html = admin.get(f"/runs/{run_id}/problems?code=INVALID_EMAIL&text=email+7+").get_data(as_text=True)
    assert "1 record matching" in html and "lead-7@example.com" in html
    assert admin.get(f"/runs/{run_id}/problems?stage=nowhere").get_data(as_text=True).count("No record matches") == 1
    # the job page shows the first open problems and links to the view
    job_html = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert f'href="/runs/{run_id}/problems"' in job_html and "Showing the first 50 of 62" in job_html


def test_csv_download_is_streamed_and_escaped(admin, world):
    _, run_id = run_with_problems(world)
    response = admin.get(f"/runs/{run_id}/problems.csv?outcome=skipped")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv" and f'filename="run-{run_id}-problems.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["record", "outcome", "stage", "code", "message"] and len(rows) == 3
    assert rows[1][:5] == ["'=HYPERLINK(\"x\",\"0\")", "skipped", "read", "missing_required", "'-no email"]


def test_dismiss_one_selected_and_all_matching(admin, world):
    _, run_id = run_with_problems(world)
    first, second, *_ = open_ids(world, run_id)
    response = admin.post(f"/runs/{run_id}/problems/dismiss", data={"only": first})
    assert response.status_code == 302 and response.headers["Location"] == f"/runs/{run_id}/problems"
    assert first not in open_ids(world, run_id)
    admin.post(f"/runs/{run_id}/problems/dismiss", data={"record_id": [second]})
    assert len(open_ids(world, run_id)) == 3
    html = admin.post(f"/runs/{run_id}/problems/dismiss", data={"all": "1", "outcome": "skipped"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Dismissed 2 records." in html and len(open_ids(world, run_id)) == 1
    html = admin.get(f"/runs/{run_id}/problems?show=dismissed").get_data(as_text=True)
    assert "Dismissed by Ada Admin" in html and html.count('class="dismissed"') == 4
    # still in the CSV
    assert len(admin.get(f"/runs/{run_id}/problems.csv?show=all").get_data(as_text=True).splitlines()) == 6


def test_retry_one_record_queues_a_retry_run(admin, world):
    job_id, run_id = run_with_problems(world)
    first = open_ids(world, run_id)[0]
    response = admin.post(f"/runs/{run_id}/problems/retry", data={"only": first})
    with world.session() as s:
        retry = s.scalar(select(JobRun).where(JobRun.job_id == job_id, JobRun.trigger == "retry"))
        assert (retry.status, retry.retry_of_id, retry.retry_keys) == ("queued", run_id, ["lead-0@example.com"])
        assert s.scalar(select(Outbox).where(Outbox.message_id == f"run_{retry.id}_0")) is not None
    assert response.headers["Location"] == f"/jobs/{job_id}?run={retry.id}"
    html = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert f'href="/runs/{run_id}/problems">problems of run #{run_id}</a>' in html and "1 record asked for" in html
    assert f"Run #{retry.id} queued to retry 1 record: it processes only this record" in html
    # a second retry while that run is queued is refused, with the reason
    html = admin.post(f"/runs/{run_id}/problems/retry", data={"all": "1"}, follow_redirects=True).get_data(as_text=True)
    assert "Not retried: a run of this job is already queued or running" in html


def test_retry_all_takes_every_open_matching_key(admin, world):
    job_id, run_id = run_with_problems(world)
    admin.post(f"/runs/{run_id}/problems/retry", data={"all": "1", "stage": "load"})
    with world.session() as s:
        keys = s.scalar(select(JobRun.retry_keys).where(JobRun.job_id == job_id, JobRun.trigger == "retry"))
    assert keys == [f"lead-{i}@example.com" for i in range(3)]


def test_a_retry_of_more_keys_than_one_run_takes_is_refused_with_what_to_do(admin, world, monkeypatch):
    from connectors.jobs import problems  # noqa: PLC0415

    monkeypatch.setattr(problems, "MAX_RETRY_KEYS", 2)
    job_id, run_id = run_with_problems(world)
    html = admin.post(f"/runs/{run_id}/problems/retry", data={"all": "1"}, follow_redirects=True).get_data(as_text=True)
    assert "Not retried: 5 records are more than one retry takes (2): narrow the filter, or run the whole job " \
           "again with Run now" in html
    with world.session() as s:
        assert s.scalar(select(JobRun.id).where(JobRun.job_id == job_id, JobRun.trigger == "retry")) is None


def test_nothing_selected_changes_nothing(admin, world):
    job_id, run_id = run_with_problems(world)
    html = admin.post(f"/runs/{run_id}/problems/retry", data={}, follow_redirects=True).get_data(as_text=True)
    assert "Not retried: no records to retry" in html
    html = admin.post(f"/runs/{run_id}/problems/dismiss", data={}, follow_redirects=True).get_data(as_text=True)
    assert "Nothing to dismiss" in html and len(open_ids(world, run_id)) == 5


def test_another_accounts_run_is_not_found(world):
    _, run_id = run_with_problems(world)
    other = make_app(world).test_client()
    login(other, "admin@other.test")
    for method, url in (("get", f"/runs/{run_id}/problems"), ("get", f"/runs/{run_id}/problems.csv"),
                        ("post", f"/runs/{run_id}/problems/retry"), ("post", f"/runs/{run_id}/problems/dismiss")):
        assert getattr(other, method)(url, data={"all": "1"}).status_code == 404, url
    assert len(open_ids(world, run_id)) == 5


def test_builder_acts_on_the_runs_of_assigned_events_not_account_jobs(builder, world):
    _, run_id = run_with_problems(world)
    assert builder.get(f"/runs/{run_id}/problems").status_code == 200
    assert builder.post(f"/runs/{run_id}/problems/dismiss", data={"all": "1"}).status_code == 302
    assert open_ids(world, run_id) == []
    with world.session() as s, s.begin():
        account_job = add_job(s, world.ids["acme"], None, world.ids["config"], "ended", run_status="partially_failed",
                              job_type="testapp.profiles")
        account_run = s.scalar(select(JobRun.id).where(JobRun.job_id == account_job))
    assert builder.get(f"/runs/{account_run}/problems").status_code == 403
    assert builder.post(f"/runs/{account_run}/problems/retry", data={"all": "1"}).status_code == 403


@pytest.fixture
def csrf_client(world):
    client = make_app(world, WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/login").get_data(as_text=True)
    login(client, "admin@acme.test", csrf_token=csrf_token(page))
    return client


def test_actions_need_the_csrf_token(csrf_client, world):
    _, run_id = run_with_problems(world)
    assert csrf_client.post(f"/runs/{run_id}/problems/dismiss", data={"all": "1"}).status_code == 400
    assert len(open_ids(world, run_id)) == 5
    token = csrf_token(csrf_client.get(f"/runs/{run_id}/problems").get_data(as_text=True))
    assert csrf_client.post(f"/runs/{run_id}/problems/dismiss", data={"all": "1", "csrf_token": token}).status_code == 302
    assert open_ids(world, run_id) == []
