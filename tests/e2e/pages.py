"""What a person does on the admin's pages, as reusable steps for browser tests and screenshots.

Each step uses what the person sees (link texts, labels, button names), not URLs or CSS ids
where a visible name exists, so a step breaks when the page stops making sense to a person.
"""
from __future__ import annotations

from typing import Any

# Records, across the reload run.js does at the end, every status and progress text the page
# showed while it polled: proof that the page updated live, not only after a reload.
LIVE_RECORDER = """
(() => {
  const KEY = "e2e-live-updates";
  const record = () => {
    const status = document.querySelector('[data-field="status_label"]');
    const text = document.querySelector('[data-field="progress_text"]');
    if (!status) return;
    const seen = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    const entry = status.textContent.trim() + " | " + (text ? text.textContent.trim() : "");
    if (seen[seen.length - 1] !== entry) { seen.push(entry); sessionStorage.setItem(KEY, JSON.stringify(seen)); }
  };
  document.addEventListener("DOMContentLoaded", () => {
    const seen = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    sessionStorage.setItem(KEY, JSON.stringify([...seen, "load"]));
    record();
    new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
  });
})();
"""


def expect(target: Any) -> Any:
    """Playwright's retrying ``expect`` (imported late, so that collecting the tests never needs
    Playwright: without it they skip, or fail under CI, through the fixtures)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def open_event_connectors(page: Any, base_url: str, event_name: str) -> None:
    """Events page -> the event's row -> Connectors."""
    page.goto(base_url)
    page.get_by_role("row", name=event_name).get_by_role("link", name="Connectors", exact=True).click()
    page.get_by_role("heading", name="Connectors", level=1).wait_for()


def open_new_event_job(page: Any, base_url: str, event_name: str, application: str, job_type: str) -> None:
    """From the event's Connectors page: New Event Job, then pick the application and the job type
    (each choice reloads the form, as it does for a person)."""
    open_event_connectors(page, base_url, event_name)
    with page.expect_navigation():  # to its "load": app.js, which reloads on a choice, is running by then
        page.get_by_role("link", name="New Event Job").click()
    with page.expect_navigation():
        page.locator("select#application").select_option(label=application)
    with page.expect_navigation():
        page.locator("select#job_type").select_option(label=job_type)
    page.get_by_role("button", name="Submit Job").wait_for()


def submit_job(page: Any) -> None:
    """Press Submit Job and wait for the next page (the job page, or the form with its errors)."""
    with page.expect_navigation():
        page.get_by_role("button", name="Submit Job").click()


def run_status(page: Any) -> str:
    return page.locator('[data-field="status_label"]').inner_text().strip()


def wait_for_run_end(page: Any, timeout_ms: int = 60_000) -> str:
    """Wait on the job page until the server rendered its run as ended (run.js polls while the
    run is active, then reloads once), and return the status shown."""
    page.locator('[data-run-status-url][data-active="false"]').wait_for(timeout=timeout_ms)
    return run_status(page)


def live_updates(page: Any) -> list[str]:
    """What ``LIVE_RECORDER`` saw in this tab: "load" at each page load, then each
    "Status | progress text" the page showed, in order."""
    return page.evaluate("JSON.parse(sessionStorage.getItem('e2e-live-updates') || '[]')")


def shown_while_polling(updates: list[str]) -> list[str]:
    """From ``live_updates``: what the job page changed to by itself between its load and the
    reload at the run's end (empty when the run had ended before the page opened)."""
    loads = [i for i, entry in enumerate(updates) if entry == "load"]
    if len(loads) < 2:
        return []
    return updates[loads[-2] + 2:loads[-1]]
