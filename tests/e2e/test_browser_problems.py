"""A run's problems in a real browser, on the running demo: a Marketo import's skipped records
filtered, downloaded as CSV, one retried (a new run that tells it is still skipped) and one
dismissed. Fixtures: tests/e2e/conftest.py; steps: tests/e2e/pages.py."""
from __future__ import annotations

import csv
import io
import re
import uuid

import pytest

from .pages import open_new_event_job, submit_job, wait_for_run_end

pytestmark = pytest.mark.browser

EVENT = "Summit 2026"
IMPORT = "Import Marketo Leads as Registrations"
SKIPPED = 26  # the sandbox's list "SUMMIT26 Invitees": 26 of its 520 leads lack an e-mail or share one


def finished_import(page, base_url: str) -> None:
    open_new_event_job(page, base_url, EVENT, "Marketo", IMPORT)
    page.get_by_label("Job name").fill(f"Invitees problems {uuid.uuid4().hex[:6]}")
    page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
    submit_job(page)
    assert wait_for_run_end(page) == "Succeeded"


def problem_rows(page):
    return page.get_by_role("region", name="Record problems").locator("tbody tr")


def test_problems_filter_download_retry_and_dismiss(admin_page, demo_app, tmp_path):
    page = admin_page
    finished_import(page, demo_app.url)
    assert page.get_by_text("Speed").is_visible() and re.search(r"records/s", page.locator('[data-field="rate_text"]').inner_text())

    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Open the problems")).click()
    page.get_by_role("heading", name=re.compile(r"Problems of run #\d+")).wait_for()
    assert page.get_by_role("heading", name=f"{SKIPPED} records").is_visible()
    assert problem_rows(page).count() == SKIPPED

    page.get_by_label("Code").select_option("missing_required")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    missing = problem_rows(page).count()
    assert 0 < missing < SKIPPED and page.get_by_role("heading", name=re.compile(f"{missing} records? matching")).is_visible()

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "problems.csv"
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][:4] == ["record", "outcome", "stage", "code"] and len(rows) == missing + 1
    assert {r[3] for r in rows[1:]} == {"missing_required"}  # the filter applies to the download

    first = problem_rows(page).first
    key = first.locator("code").inner_text()
    with page.expect_navigation():
        first.get_by_role("button", name=f"Dismiss {key}").click()
    assert page.get_by_text("Dismissed 1 record.").is_visible()
    assert problem_rows(page).count() == missing - 1 and page.get_by_text(key, exact=True).count() == 0

    second = problem_rows(page).first
    retried = second.locator("code").inner_text()
    with page.expect_navigation():
        second.get_by_role("button", name=f"Retry {retried}").click()
    assert page.get_by_text(re.compile(r"Run #\d+ queued to retry 1 record")).is_visible()
    assert wait_for_run_end(page) == "Succeeded"
    retry_of = page.get_by_role("definition").filter(has_text="asked for")
    assert re.search(r"1 record asked for, and only those ran again — 0 fixed, 1 still failing or skipped", retry_of.inner_text())
