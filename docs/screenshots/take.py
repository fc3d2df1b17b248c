"""Take the README's screenshots of the admin: `make screenshots` (or this file with the venv's python).

Starts a fresh `connectors demo` in a temporary folder, signs in as the demo administrator in
headless Chromium, submits the demo's import through the New Event Job form as a person would
(once to run now, once recurring), tests Oracle Eloqua's connection and reads its fields, and
saves the main pages at 1280 px wide — login, events, the form, a run, its problems, the job page
with its next runs, the Connectors list, the plugin page and its mapping editor, registrations,
the API docs — and two at phone width (390 px) as PNG next to this file (or into --out). It uses the
browser tests' own code (tests/e2e/demo_app.py, browser.py, pages.py), so the pictures show what
those tests check.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser import chromium, log_in, open_context, unavailable_reason  # noqa: E402
from tests.e2e.demo_app import running_demo  # noqa: E402
from tests.e2e.pages import (expect, open_event_connectors, open_new_event_job, submit_job,  # noqa: E402
                             wait_for_run_end)

EVENT = "Summit 2026"
IMPORT = "Import Marketo Leads as Registrations"
WORKER_MS = 90_000  # a worker answers "Test connection" and "Discover fields"
PHONE_390 = {"width": 390, "height": 844}


def take(out: Path) -> list[Path]:
    saved: list[Path] = []

    def shot(page, name: str, full_page: bool = True, target=None) -> None:
        path = out / f"{name}.png"
        (target or page).screenshot(path=str(path), **({} if target else {"full_page": full_page}))
        saved.append(path)

    with tempfile.TemporaryDirectory(prefix="connectors-screens-") as folder, \
            running_demo(Path(folder)) as demo, chromium() as browser:
        context = open_context(browser)
        page = context.new_page()
        page.goto(demo.url + "login")
        shot(page, "login", full_page=False)
        log_in(page, demo.url, "admin")
        shot(page, "events", full_page=False)

        # A run-now import: its run page, then its problems view.
        open_new_event_job(page, demo.url, EVENT, "Marketo", IMPORT)
        page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
        shot(page, "new-event-job")
        submit_job(page)
        wait_for_run_end(page)
        shot(page, "run")
        with page.expect_navigation():
            page.get_by_role("link", name=re.compile("Open the problems")).click()
        shot(page, "problems", full_page=False)

        # A recurring import, run once now: the job page with its schedule in words, next runs and chart.
        open_new_event_job(page, demo.url, EVENT, "Marketo", IMPORT)
        page.get_by_label("Job name").fill("SUMMIT26 invitees, nightly")
        page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
        page.get_by_label("Recurring").check()
        page.get_by_label("Frequency").select_option(label="Every N days")
        page.get_by_label("Interval (N)").fill("1")
        page.locator("#start_at").fill("2030-05-01T02:00")
        page.locator("#end_at").fill("2030-06-30T02:00")
        submit_job(page)
        with page.expect_navigation():
            page.get_by_role("button", name="Run now").click()
        wait_for_run_end(page)
        job_url = page.url
        shot(page, "job-next-runs")

        open_event_connectors(page, demo.url, EVENT)
        shot(page, "event-connectors", full_page=False)

        # Third-Party Plugins: Oracle Eloqua tested, its fields read, then the mapping editor.
        page.goto(demo.url + "account/plugins/")
        with page.expect_navigation():
            page.get_by_role("row", name=re.compile("Oracle Eloqua")).get_by_role("link", name="Edit").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Test connection").click()
        expect(page.locator('[data-task="check"]')).to_contain_text("OK", timeout=WORKER_MS)
        with page.expect_navigation():
            page.get_by_role("button", name="Discover fields").click()
        expect(page.get_by_text(re.compile(r"\d+ remote fields known"))).to_be_visible(timeout=WORKER_MS)
        shot(page, "plugin", full_page=False)
        shot(page, "plugin-mappings", target=page.locator("#mappings"))

        page.goto(demo.url + "events/SUMMIT26/registrations")
        shot(page, "registrations", full_page=False)
        page.goto(demo.url + "api/v1/docs")
        shot(page, "api-docs", full_page=False)
        state = context.storage_state()
        context.close()

        # The same admin on a phone: the recurring job's page, as cards.
        phone = open_context(browser, PHONE_390, storage_state=state)
        page = phone.new_page()
        page.goto(job_url)
        page.wait_for_load_state("load")
        shot(page, "phone-job", full_page=False)
        page.goto(demo.url + "events/SUMMIT26/registrations")
        page.get_by_text(re.compile(r"Showing 1–\d+ of")).evaluate("e => e.scrollIntoView()")  # to the cards
        shot(page, "phone-registrations", full_page=False)
        phone.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder for the PNG files (default: docs/screenshots)")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print("cannot take screenshots: " + reason, file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for path in take(args.out):
        print(f"{path}  {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
