"""The job page, its actions, and the live status endpoint."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connectors.models import Job, JobRun, Outbox, RunRecord, utcnow

from .conftest import add_job


def running_job(world) -> tuple[int, int]:
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "running", name="Live import")
        run = JobRun(job_id=job_id, status="running", progress_done=40, progress_total=160,
                     started_at=utcnow() - timedelta(seconds=20),
                     counters={"created": 30, "updated": 7, "failed": 3},
                     log=[{"at": "2026-01-01T00:00:00Z", "level": "info", "message": "fetched <page> 1"}])
        s.add(run)
        s.flush()
        s.add_all([RunRecord(run_id=run.id, record_key=f"lead-{i}", outcome="failed", stage="load",
                             code="INVALID_EMAIL", message="email is not valid") for i in range(3)])
        return job_id, run.id


def test_status_json_reports_progress_and_counts(admin, world):
    _, run_id = running_job(world)
    response = admin.get(f"/runs/{run_id}/status.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    data = response.json
    assert data["status"] == "running" and data["active"] is True
    progress = data["progress"]
    assert (progress["done"], progress["total"], progress["percent"]) == (40, 160, 25)
    # 40 records in 20 s: 2 a second, so the 120 left take about a minute
    assert progress["per_second"] == 2.0 and progress["rate_text"] == "2.0 records/s"
    assert 58 <= progress["seconds_left"] <= 60 and progress["left_text"] in ("58 s", "59 s", "1 min")
    assert data["counters"] == {"created": 30, "updated": 7, "unchanged": 0, "skipped": 0, "failed": 3}
    assert data["problems"] == 3 and data["log"][0]["message"] == "fetched <page> 1"


def test_job_page_shows_definition_progress_problems_and_log(admin, world):
    job_id, run_id = running_job(world)
    html = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Live import" in html and "Static list" in html  # params shown with their schema labels
    assert f'data-run-status-url="/runs/{run_id}/status.json"' in html and 'data-active="true"' in html
    assert '<progress id="run-progress" data-field="progress" max="160" value="40">' in html
    assert "lead-2" in html and "INVALID_EMAIL" in html and "email is not valid" in html
    assert "fetched &lt;page&gt; 1" in html  # log text is escaped
    assert "/static/run.js" in html and "Cancel run" in html
    assert 'data-field="rate_text">2.0 records/s<' in html and 'data-field="left_text"' in html
    assert f'href="/runs/{run_id}/problems"' not in html  # the problems view opens once the run ended


def test_cancel_running_run_sets_the_flag(admin, world):
    job_id, run_id = running_job(world)
    response = admin.post(f"/runs/{run_id}/cancel", follow_redirects=True)
    assert "Cancellation requested" in response.get_data(as_text=True)
    with world.session() as s:
        assert s.get(JobRun, run_id).cancel_requested is True
    assert admin.get(f"/runs/{run_id}/status.json").json["cancel_requested"] is True


def test_run_now_queues_a_run_with_its_outbox_row(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="succeeded")
    response = admin.post(f"/jobs/{job_id}/run")
    assert response.status_code == 302
    with world.session() as s:
        run = s.scalar(select(JobRun).where(JobRun.job_id == job_id, JobRun.status == "queued"))
        assert run is not None and s.get(Job, job_id).state == "scheduled"
        assert s.scalar(select(Outbox).where(Outbox.message_id == f"run_{run.id}_0")) is not None
    assert response.headers["Location"] == f"/jobs/{job_id}?run={run.id}"
    # a second Run now while one is queued is refused: no overlapping runs
    html = admin.post(f"/jobs/{job_id}/run", follow_redirects=True).get_data(as_text=True)
    assert "already queued or running" in html


def test_queued_run_cancel_ends_it(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "scheduled")
    admin.post(f"/jobs/{job_id}/run")
    with world.session() as s:
        run_id = s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))
    admin.post(f"/runs/{run_id}/cancel")
    data = admin.get(f"/runs/{run_id}/status.json").json
    assert data["status"] == "cancelled" and data["active"] is False


def test_disable_and_enable(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="succeeded")
    admin.post(f"/jobs/{job_id}/disable")
    with world.session() as s:
        job = s.get(Job, job_id)
        assert (job.enabled, job.state) == (False, "disabled")
    html = admin.post(f"/jobs/{job_id}/run", follow_redirects=True).get_data(as_text=True)
    assert "enable it before running it" in html
    admin.post(f"/jobs/{job_id}/enable")
    with world.session() as s:
        job = s.get(Job, job_id)
        assert (job.enabled, job.state) == (True, "ended")


def test_selected_run_must_belong_to_the_job(admin, world):
    job_id, _ = running_job(world)
    with world.session() as s:
        other_run = s.scalar(select(JobRun.id).where(JobRun.job_id == world.ids["other_job"]))
    assert admin.get(f"/jobs/{job_id}?run={other_run}").status_code == 404


def test_finished_run_is_not_polled(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="succeeded")
    html = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'data-active="false"' in html and "Succeeded" in html and "Cancel run" not in html


def ended_runs(world, totals: list[tuple[int, int]]) -> int:
    """A recurring job with ended runs of (records done, failed) each."""
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "scheduled", name="Nightly")
        for done, failed in totals:
            s.add(JobRun(job_id=job_id, status="partially_failed" if failed else "succeeded", started_at=utcnow(),
                         ended_at=utcnow(), counters={"created": done - failed, "failed": failed}, log=[]))
    return job_id


def test_recurring_job_shows_a_chart_of_records_per_run(admin, world):
    job_id = ended_runs(world, [(100, 0), (50, 10), (200, 0)])
    html = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'role="img"' in svg and "from 50 to 200, latest 200" in svg
    assert svg.count('class="bar"') == 3 and ": 50 records, 10 failed or skipped (Partially failed)" in svg
    # the tallest run reaches the top line; the oldest is drawn first, at the left
    assert 'x="1.0" y="14.0" width="28" height="106.0" class="ok"' not in svg  # the tallest is the newest
    assert 'x="61.0" y="14.0" width="28" height="106.0" class="ok"' in svg
    assert svg.index("records, 0 failed or skipped (Succeeded)") < svg.index("50 records")


def test_a_single_run_draws_no_chart(admin, world):
    job_id = ended_runs(world, [(100, 0)])
    assert "<svg" not in admin.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_refused_job_says_why_and_what_to_fix(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "disabled")
        job = s.get(Job, job_id)
        job.validation_state, job.validation_message = "failed", "no activity type 'Webinar <Attended>' in Eloqua"
    html = admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Refused by Test App:" in html and "no activity type &#39;Webinar &lt;Attended&gt;&#39; in Eloqua" in html
    assert "press <strong>Enable</strong>" in html and "checked again" in html
    with world.session() as s, s.begin():
        s.get(Job, job_id).validation_state = "pending"
    assert "Checking the parameters" in admin.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_time_left_is_not_guessed_without_a_total(admin, world):
    job_id, run_id = running_job(world)
    with world.session() as s, s.begin():
        s.get(JobRun, run_id).progress_total = None
    progress = admin.get(f"/runs/{run_id}/status.json").json["progress"]
    assert progress["percent"] is None and progress["seconds_left"] is None and progress["per_second"] == 2.0
    assert progress["left_text"] == "not known: the job has not reported its total"
