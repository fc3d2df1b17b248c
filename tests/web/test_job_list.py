"""The Connectors lists: filters narrow, sort orders, pages page with the filters kept, row actions
come back to the list they were clicked on, and the API lists the same way."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from connectors import JobType
from connectors.db import transaction
from connectors.models import Job

from .api_helpers import api, errors_of  # noqa: F401  (fixture)
from .conftest import ImportParams, add_job

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def _names(html: str) -> list[str]:
    """The job names in the list's rows, in order."""
    return re.findall(r'<th scope="row"><a href="/jobs/\d+">([^<]+)</a>', html)


def _seed(world, count: int = 0):
    """Jobs of EV1 in every state and of two job types (a second event-level type, "Export Test
    Records", is added), submitted one hour apart, plus ``count`` more."""
    world.services.registry._registry.job_types["testapp.export"] = JobType(
        key="testapp.export", label="Export Test Records", application="testapp", scope="event",
        params_schema=ImportParams, run=lambda ctx, params: None)
    ids, made = world.ids, {}
    with transaction(world.services.factory) as s:
        for i, (name, state, job_type) in enumerate([("Alpha ended", "ended", "testapp.import"),
                                                      ("Bravo scheduled", "scheduled", "testapp.import"),
                                                      ("Charlie disabled", "disabled", "testapp.import"),
                                                      ("Delta running", "running", "testapp.import"),
                                                      ("Echo other type", "scheduled", "testapp.export")]):
            made[name] = add_job(s, ids["acme"], ids["ev1"], ids["config"], state, name=name, job_type=job_type,
                                 run_status="running" if state == "running" else None)
        for i in range(count):
            add_job(s, ids["acme"], ids["ev1"], ids["config"], "scheduled", name=f"Bulk {i:02d}")
        for n, job in enumerate(s.query(Job).filter(Job.event_id == ids["ev1"]).order_by(Job.id)):
            job.submitted_at = T0 + timedelta(hours=n)
        s.get(Job, made["Bravo scheduled"]).schedule.next_run_at = T0 + timedelta(days=30)
        s.get(Job, made["Echo other type"]).schedule.next_run_at = T0 + timedelta(days=10)
        s.get(Job, made["Charlie disabled"]).schedule.next_run_at = T0 + timedelta(days=1)  # disabled: no next run
    return made


def test_filters_narrow_the_list(admin, world):
    _seed(world)
    page = lambda qs: admin.get(f"/events/EV1/connectors?{qs}").get_data(as_text=True)  # noqa: E731
    assert sorted(_names(page("state=scheduled"))) == ["Bravo scheduled", "Echo other type"]
    assert _names(page("state=ended")) == ["Alpha ended"]
    assert _names(page("job_type=testapp.export")) == ["Echo other type"]
    assert len(_names(page("application=testapp"))) == 5
    assert _names(page("state=scheduled&job_type=testapp.import")) == ["Bravo scheduled"]
    html = page("state=ended&job_type=testapp.export")
    assert _names(html) == [] and "No job matches these filters" in html


def test_a_bad_filter_is_400_naming_it(admin, world):
    _seed(world)
    response = admin.get("/events/EV1/connectors?state=sleeping&sort=colour&application=nope")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "&#39;sleeping&#39; is not one of: scheduled, running, listening, ended, disabled" in html
    assert "&#39;colour&#39; is not one of: submitted, name, job_type, status, next_run" in html
    assert "&#39;nope&#39; is not an installed application" in html
    assert _names(html) == []


def test_sort_by_name_status_and_next_run(admin, world):
    _seed(world)
    get = lambda qs: _names(admin.get(f"/events/EV1/connectors?{qs}").get_data(as_text=True))  # noqa: E731
    assert get("") == ["Echo other type", "Delta running", "Charlie disabled", "Bravo scheduled", "Alpha ended"]
    assert get("sort=name&direction=asc") == ["Alpha ended", "Bravo scheduled", "Charlie disabled", "Delta running",
                                              "Echo other type"]
    assert get("sort=status&direction=asc")[:2] == ["Charlie disabled", "Alpha ended"]  # disabled < ended < ...
    # next run soonest first; the disabled job shows none, so it sorts with the jobs without one, last
    assert get("sort=next_run&direction=asc")[:2] == ["Echo other type", "Bravo scheduled"]
    assert get("sort=next_run&direction=desc")[:2] == ["Bravo scheduled", "Echo other type"]
    assert get("sort=job_type&direction=asc")[0] == "Echo other type"  # by label: "Export…" before "Import…"


def test_column_headers_sort_and_flip(admin, world):
    _seed(world)
    html = admin.get("/events/EV1/connectors?state=scheduled&sort=name&direction=asc").get_data(as_text=True)
    assert 'aria-sort="ascending"' in html
    link = re.search(r'<a href="([^"]+)" data-sort="name">', html).group(1).replace("&amp;", "&")
    assert "direction=desc" in link and "state=scheduled" in link
    assert _names(admin.get(link).get_data(as_text=True)) == ["Echo other type", "Bravo scheduled"]


def test_pages_of_25_keep_the_filters(admin, world):
    _seed(world, count=30)
    html = admin.get("/events/EV1/connectors?state=scheduled&sort=name&direction=asc").get_data(as_text=True)
    assert "Showing 1–25 of 32 jobs." in html and len(_names(html)) == 25
    nxt = re.search(r'<a class="button" rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "state=scheduled" in nxt and "sort=name" in nxt and "page=2" in nxt
    second = admin.get(nxt).get_data(as_text=True)
    assert "Showing 26–32 of 32 jobs." in second and _names(second)[-1] == "Echo other type"
    assert 'rel="prev"' in second and 'rel="next"' not in second
    past = admin.get("/events/EV1/connectors?state=scheduled&page=99").get_data(as_text=True)
    assert "Page 2 of 2" in past  # past the end: the last page
    assert admin.get("/events/EV1/connectors?page=0").status_code == 400


def test_row_actions_are_offered_by_state_and_return_to_the_list(admin, world):
    made = _seed(world)
    html = admin.get("/events/EV1/connectors?state=scheduled").get_data(as_text=True)
    row = re.search(rf'<tr data-job-id="{made["Bravo scheduled"]}">.*?</tr>', html, re.S).group(0)
    for label in ("Run now", "Disable", "Edit schedule", "Delete"):
        assert f">{label}<" in row, label
    assert 'name="next" value="/events/EV1/connectors?state=scheduled"' in row
    running = admin.get("/events/EV1/connectors?state=running").get_data(as_text=True)
    assert ">Cancel run<" in running and ">Delete<" not in running and ">Run now<" not in running
    back = "/events/EV1/connectors?state=scheduled"
    response = admin.post(f"/jobs/{made['Bravo scheduled']}/disable", data={"next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    assert "Job “Bravo scheduled” disabled." in admin.get(back).get_data(as_text=True)
    response = admin.post(f"/jobs/{made['Charlie disabled']}/enable", data={"next": "https://evil.example/x"})
    assert response.headers["Location"] == f"/jobs/{made['Charlie disabled']}"  # never another site


def test_account_page_filters_its_own_jobs(admin, world):
    ids = world.ids
    with transaction(world.services.factory) as s:
        add_job(s, ids["acme"], None, ids["config"], "ended", name="Old profiles", job_type="testapp.profiles")
        add_job(s, ids["acme"], None, ids["config"], "scheduled", name="Profiles sync", job_type="testapp.profiles")
        add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", name="Event job")
    html = admin.get("/account/connectors?state=ended").get_data(as_text=True)
    assert _names(html) == ["Old profiles"]
    html = admin.get("/account/connectors?state=ended&event=EV1").get_data(as_text=True)
    assert _names(html) == ["Old profiles", "Event job"]  # the chosen event's section below
    assert 'name="event" value="EV1"' in html  # filtering again keeps the chosen event


def test_the_api_lists_with_the_same_filters_sort_and_pages(api, world):
    _seed(world, count=3)
    get = lambda qs, who="admin": api.call("GET", f"/api/v1/jobs?event=EV1&{qs}", who).get_json()  # noqa: E731
    assert [j["name"] for j in get("state=scheduled&sort=next_run&direction=asc&per_page=2")["jobs"]] == \
        ["Echo other type", "Bravo scheduled"]
    assert [j["name"] for j in get("application=testapp&job_type=testapp.export")["jobs"]] == ["Echo other type"]
    second = get("sort=name&direction=asc&per_page=3&page=2", "builder")
    assert [j["name"] for j in second["jobs"]] == ["Bulk 01", "Bulk 02", "Charlie disabled"]
    assert second["page"] == {"page": 2, "per_page": 3, "total": 8}
    assert get("per_page=3&page=9")["jobs"] == []  # past the end: empty, not the last page
    resp = api.call("GET", "/api/v1/jobs?sort=colour&direction=up")
    assert resp.status_code == 400 and set(errors_of(resp)) == {"sort", "direction"}
    bravo = next(j for j in get("state=scheduled")["jobs"] if j["name"] == "Bravo scheduled")
    assert bravo["next_runs"] == ["2026-01-31T09:00:00+00:00"]  # a once schedule: one run left
