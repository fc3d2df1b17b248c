"""The admin's job pages in a real browser, on the running demo: signing in, the New Event Job
form (run now, recurring, invalid input), the live run page with its problems, the builder's
limits, and phone width. Fixtures: tests/e2e/conftest.py; steps: tests/e2e/pages.py."""
from __future__ import annotations

import re
import uuid

import pytest

from .browser import PHONE, horizontal_overflow, open_context
from .pages import (expect, live_updates, open_event_connectors, open_new_event_job, run_status, shown_while_polling,
                    submit_job, wait_for_run_end)

pytestmark = pytest.mark.browser

EVENT = "Summit 2026"
IMPORT = "Import Marketo Leads as Registrations"
NEW_IMPORT_FORM = "events/SUMMIT26/connectors/new?application=marketo&job_type=marketo.import_leads_as_registrations"
# The sandbox's list "SUMMIT26 Invitees": 520 leads, 26 of them without an e-mail or sharing one.
LEADS, SKIPPED = 520, 26


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def fill_import(page, job_name: str) -> None:
    page.get_by_label("Job name").fill(job_name)
    page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
    page.get_by_label("Page size").fill("100")  # six pages: a run long enough to watch


@pytest.fixture(scope="module")
def finished_import(browser, demo_app, signed_in):
    """A run-now import submitted through the form by the admin, watched to its end on the job page."""
    context = open_context(browser, storage_state=signed_in("admin"))
    page = context.new_page()
    name = unique("Invitees now")
    open_new_event_job(page, demo_app.url, EVENT, "Marketo", IMPORT)
    assert page.get_by_label("Run once, now").is_checked()
    fill_import(page, name)
    submit_job(page)
    shown_first = run_status(page)
    status = wait_for_run_end(page)
    yield {"page": page, "name": name, "url": page.url, "first": shown_first, "status": status,
           "live": live_updates(page)}
    context.close()


def test_log_in_with_the_form_and_a_wrong_password_is_refused(page_as, demo_app):
    page = page_as(None)
    page.goto(demo_app.url)
    assert page.get_by_role("heading", name="Log in").is_visible()  # signed-out users are sent to log in
    page.get_by_label("Login (e-mail)").fill("admin@demo.example")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Invalid login or password.")).to_be_visible()

    page.get_by_label("Password").fill("demo-admin")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Events").wait_for()
    assert page.get_by_role("row", name=re.compile(EVENT)).is_visible()
    assert page.get_by_text("Ada Admin").is_visible()


def test_run_now_job_fills_its_progress_bar_live(finished_import):
    page = finished_import["page"]
    assert re.search(r"/jobs/\d+", finished_import["url"])
    assert finished_import["first"] in ("Queued", "Running")  # the job page opens on the live run
    assert finished_import["status"] == "Succeeded"
    assert page.get_by_role("heading", name=finished_import["name"]).is_visible()

    live = finished_import["live"]
    polled = shown_while_polling(live)
    assert polled and polled[-1] == f"Succeeded | {LEADS}", f"the page did not follow the run by itself: {live}"

    bar = page.locator("progress#run-progress")
    assert bar.evaluate("b => b.value === b.max && b.max > 0"), bar.evaluate("b => [b.value, b.max]")
    assert page.locator('[data-field="progress_text"]').inner_text().startswith(str(LEADS))
    counts = {o: int(page.locator(f'[data-count="{o}"]').inner_text()) for o in
              ("created", "updated", "unchanged", "skipped", "failed")}
    assert counts["skipped"] == SKIPPED and counts["failed"] == 0
    assert counts["created"] + counts["updated"] + counts["unchanged"] == LEADS - SKIPPED


def test_run_page_lists_each_skipped_record_with_its_reason(finished_import):
    page = finished_import["page"]
    assert page.get_by_text(f"{SKIPPED} failed or skipped records").is_visible()
    rows = page.get_by_role("region", name="Record problems").locator("tbody tr")
    assert rows.count() == SKIPPED
    no_email = rows.filter(has_text="missing_required").first
    assert re.search(r"Marketo lead \d+ has no value for profile\.email", no_email.inner_text())
    assert "Skipped" in no_email.inner_text()
    shared = rows.filter(has_text="duplicate").first
    assert re.search(r"email \S+@\S+ already belongs to profile \w+", shared.inner_text())
    assert rows.filter(has_text="missing_required").count() + rows.filter(has_text="duplicate").count() == SKIPPED


def test_recurring_job_is_scheduled_and_runs_now_on_request(admin_page, demo_app):
    page = admin_page
    name = unique("Invitees every 2 days")
    open_new_event_job(page, demo_app.url, EVENT, "Marketo", IMPORT)
    fill_import(page, name)
    page.get_by_label("Recurring").check()
    assert page.locator("#start_at").is_visible()  # the recurring inputs appear only for this mode
    page.get_by_label("Frequency").select_option(label="Every N days")
    page.get_by_label("Interval (N)").fill("2")
    page.locator("#start_at").fill("2030-01-06T09:30")
    page.locator("#end_at").fill("2030-03-01T09:30")
    submit_job(page)

    definition = page.get_by_role("region", name="Definition")
    assert re.search(r"Every 2 days at 09:30 Europe/Paris", definition.inner_text())
    assert "2030-01-06 09:30 CET" in definition.inner_text()  # next run, in the event's time zone
    assert page.get_by_text("No runs yet: the first is due 2030-01-06 09:30 CET").is_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="Run now").click()
    assert wait_for_run_end(page) == "Succeeded"
    assert page.locator('[data-count="skipped"]').inner_text() == str(SKIPPED)

    open_event_connectors(page, demo_app.url, EVENT)
    row = page.get_by_role("row", name=re.compile(name))
    assert "Scheduled" in row.inner_text() and "Last run: Succeeded" in row.inner_text()


def test_invalid_form_shows_the_error_next_to_the_field(admin_page, demo_app):
    page = admin_page
    open_new_event_job(page, demo_app.url, EVENT, "Marketo", IMPORT)
    form_url = page.url
    page.get_by_label("Job name").fill(unique("No list"))
    page_size = page.get_by_label("Page size")
    page_size.fill("1000")
    page.get_by_role("button", name="Submit Job").click()  # the browser itself refuses to send it
    assert "300" in page_size.evaluate("input => input.validationMessage")
    assert page.url == form_url

    page_size.fill("100")
    submit_job(page)  # no list name nor id: only the server can tell
    assert page.get_by_role("alert").filter(has_text="The job was not submitted.").is_visible()
    list_name = page.get_by_label("Static list name")
    assert list_name.get_attribute("aria-invalid") == "true"
    error = page.locator("#" + list_name.get_attribute("id") + "-errors")
    assert error.is_visible() and "name or its id" in error.inner_text()
    assert page.get_by_label("Job name").input_value().startswith("No list")  # what was typed is kept
    assert "/jobs/" not in page.url


def test_event_builder_reaches_events_but_not_account_pages(builder_page, demo_app):
    page = builder_page
    page.goto(demo_app.url)
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Account Connectors").count() == 0
    assert page.get_by_role("link", name="Account-level Connectors").count() == 0
    for path in ("account/connectors", "account/connectors/new"):
        response = page.goto(demo_app.url + path)
        assert response.status == 403, path
    open_event_connectors(page, demo_app.url, EVENT)
    assert page.get_by_role("link", name="New Event Job").is_visible()


PHONE_PAGES = [
    pytest.param(None, "login", id="login"),
    pytest.param("admin", "", id="events"),
    pytest.param("admin", "events/SUMMIT26/connectors", id="event-connectors"),
    pytest.param("builder", NEW_IMPORT_FORM, id="new-job-form"),
    pytest.param("admin", "JOB", id="job-with-run"),
]


@pytest.mark.parametrize("role,path", PHONE_PAGES)
def test_main_pages_fit_a_phone_without_horizontal_scroll(page_as, demo_app, finished_import, role, path):
    page = page_as(role, viewport=PHONE)
    page.goto(finished_import["url"] if path == "JOB" else demo_app.url + path)
    page.locator("main h1").first.wait_for()
    assert horizontal_overflow(page) == 0, f"{path or 'events'} is wider than 375 px"
