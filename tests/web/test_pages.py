"""The Connectors pages: what each role sees, and that nobody reaches another account."""
from __future__ import annotations

import re

from .conftest import add_job


def _seed_jobs(world):
    ids = world.ids
    with world.session() as s, s.begin():
        ended = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="partially_failed",
                        name="Nightly import")
        account_job = add_job(s, ids["acme"], None, ids["config"], "scheduled", name="Profiles sync",
                              job_type="testapp.profiles")
    return ended, account_job


def test_event_page_lists_jobs_with_columns(admin, world):
    _seed_jobs(world)
    html = admin.get("/events/EV1/connectors").get_data(as_text=True)
    for column in ("Job name", "Application", "Job type", "Status", "Submitted by", "Start time", "End time",
                   "Next run", "Created", "Updated", "Failed"):
        assert re.search(rf"<th[^>]*>\s*(<a [^>]*>)?{column}\b", html), column  # sortable ones are links
    assert "Nightly import" in html and "Test App" in html and "Import Test Records" in html
    assert "Partially failed" in html  # the last run's result next to the state
    assert "New Event Job" in html and "Clear All Jobs" in html
    assert "Profiles sync" not in html  # account-level jobs stay on the account page


def test_builder_uses_event_pages(builder, world):
    ended, _ = _seed_jobs(world)
    assert builder.get("/").status_code == 200
    assert builder.get("/events/EV1/connectors").status_code == 200
    assert builder.get("/events/EV1/connectors/new").status_code == 200
    assert builder.get(f"/jobs/{ended}").status_code == 200


def test_builder_gets_403_on_account_level(builder, world):
    _, account_job = _seed_jobs(world)
    assert builder.get("/account/connectors").status_code == 403
    assert builder.get("/account/connectors/new").status_code == 403
    assert builder.post("/account/connectors/clear").status_code == 403
    assert builder.get(f"/jobs/{account_job}").status_code == 403
    assert builder.post(f"/jobs/{account_job}/run").status_code == 403
    assert "Account Connectors" not in builder.get("/").get_data(as_text=True)


def test_account_page_for_admins(admin, world):
    _seed_jobs(world)
    html = admin.get("/account/connectors").get_data(as_text=True)
    assert "Profiles sync" in html and "Nightly import" not in html
    assert "New Account Job" in html
    html = admin.get("/account/connectors?event=EV1").get_data(as_text=True)
    assert "Profiles sync" in html and "Nightly import" in html
    assert "/events/EV1/connectors/new" in html  # new job for the chosen event
    assert admin.get("/account/connectors?event=OEV").status_code == 404


def test_other_accounts_ids_are_404(admin, world):
    other_job = world.ids["other_job"]
    with world.session() as s:
        from connectors.models import JobRun
        other_run = s.query(JobRun.id).filter_by(job_id=other_job).scalar()
    assert admin.get(f"/jobs/{other_job}").status_code == 404
    assert admin.post(f"/jobs/{other_job}/run").status_code == 404
    assert admin.post(f"/jobs/{other_job}/disable").status_code == 404
    assert admin.get(f"/runs/{other_run}/status.json").status_code == 404
    assert admin.post(f"/runs/{other_run}/cancel").status_code == 404
    assert admin.get("/events/OEV/connectors").status_code == 404
    assert admin.get("/events/OEV/connectors/new").status_code == 404
    assert admin.post("/events/OEV/connectors/clear").status_code == 404
    assert admin.get("/events/NOPE/connectors").status_code == 404


def test_home_lists_only_own_events(admin):
    html = admin.get("/").get_data(as_text=True)
    assert "/events/EV1/connectors" in html and "/events/EV2/connectors" in html and "OEV" not in html
