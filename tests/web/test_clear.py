"""Clear All Jobs removes only the ended jobs of the page's own scope."""
from __future__ import annotations

from sqlalchemy import select

from connectors.models import Job

from .conftest import add_job


def job_ids(world) -> set[int]:
    with world.session() as s:
        return set(s.scalars(select(Job.id)))


def test_clear_removes_only_ended_jobs_of_this_event(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        ended_ev1 = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="succeeded")
        ended_ev1_b = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended")
        scheduled_ev1 = add_job(s, ids["acme"], ids["ev1"], ids["config"], "scheduled")
        running_ev1 = add_job(s, ids["acme"], ids["ev1"], ids["config"], "running", run_status="running")
        disabled_ev1 = add_job(s, ids["acme"], ids["ev1"], ids["config"], "disabled")
        ended_ev2 = add_job(s, ids["acme"], ids["ev2"], ids["config"], "ended")
        ended_account = add_job(s, ids["acme"], None, ids["config"], "ended", job_type="testapp.profiles")
    response = admin.post("/events/EV1/connectors/clear", follow_redirects=True)
    assert response.status_code == 200
    assert "Removed 2 ended jobs of event EV1." in response.get_data(as_text=True)
    left = job_ids(world)
    assert ended_ev1 not in left and ended_ev1_b not in left
    assert {scheduled_ev1, running_ev1, disabled_ev1, ended_ev2, ended_account, ids["other_job"]} <= left


def test_clear_with_nothing_to_remove(builder):
    response = builder.post("/events/EV2/connectors/clear", follow_redirects=True)
    assert "No ended jobs to remove in event EV2." in response.get_data(as_text=True)


def test_clear_on_account_page_removes_only_account_level_ended_jobs(admin, world):
    ids = world.ids
    with world.session() as s, s.begin():
        ended_account = add_job(s, ids["acme"], None, ids["config"], "ended", job_type="testapp.profiles")
        ended_ev1 = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended")
    admin.post("/account/connectors/clear")
    left = job_ids(world)
    assert ended_account not in left and ended_ev1 in left


def test_clear_is_post_only(admin):
    assert admin.get("/events/EV1/connectors/clear").status_code == 405
