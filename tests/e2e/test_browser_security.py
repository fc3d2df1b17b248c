"""The admin under its Content-Security-Policy in a real browser: the pages run their scripts
(app.js, run.js, plugins.js) with no policy violation and no script error, and the demo's event
builder sees only the event they are assigned to. Fixtures: tests/e2e/conftest.py."""
from __future__ import annotations

import uuid

import pytest

from .pages import expect, open_new_event_job, submit_job, wait_for_run_end

pytestmark = pytest.mark.browser

#: Collects the page's CSP violations (the browser fires ``securitypolicyviolation`` for each).
VIOLATIONS_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
                              e.sourceFile + ":" + e.lineNumber);
});
"""


def watched(page):
    """Record the page's CSP violations and script errors; returns the error list."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(VIOLATIONS_RECORDER)
    return errors


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_pages_and_their_scripts_work_under_the_policy(page_as, demo_app):
    page = page_as("admin")
    errors = watched(page)
    checked = []

    def check(what: str) -> None:
        checked.append(what)
        assert violations(page) == [], what

    # app.js: the application and job type pickers reload the form; the run mode shows its inputs
    open_new_event_job(page, demo_app.url, "Summit 2026", "Marketo", "Import Marketo Leads as Registrations")
    page.get_by_label("Recurring").check()
    expect(page.locator('[data-mode-section="recurring"]')).to_be_visible()
    page.get_by_label("Run once, now").check()
    expect(page.locator('[data-mode-section="recurring"]')).to_be_hidden()
    check("new job form")
    # run.js: polls status.json (connect-src) until the run ends, then reloads the page
    page.get_by_label("Job name").fill(f"CSP check {uuid.uuid4().hex[:6]}")
    page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
    submit_job(page)
    assert wait_for_run_end(page) in ("Succeeded", "Partially failed")
    check("job page")
    # plugins.js: the mapping editors show their row buttons only when the script ran
    page.goto(demo_app.url + "account/plugins/")
    page.get_by_role("link", name="Edit").first.click()
    expect(page.locator('[data-row-action="add"]').first).to_be_visible()
    check("plugin page")
    for path in ("", "events/SUMMIT26/connectors", "events/SUMMIT26/registrations", "account/connectors"):
        page.goto(demo_app.url + path)
        page.locator("main h1").first.wait_for()
        check(path or "events")
    assert errors == [], errors


def test_the_demo_builder_sees_only_summit26(page_as, demo_app):
    page = page_as("builder")
    page.goto(demo_app.url)
    events = page.get_by_role("region", name="Events")
    expect(events.get_by_role("row", name="Summit 2026")).to_be_visible()
    expect(events.get_by_role("row", name="Spring Webinar Series")).to_have_count(0)
    for path in ("events/WEBINAR26/connectors", "events/WEBINAR26/registrations", "events/WEBINAR26/connectors/new"):
        assert page.goto(demo_app.url + path).status == 404, path
    assert page.goto(demo_app.url + "events/SUMMIT26/registrations").status == 200
