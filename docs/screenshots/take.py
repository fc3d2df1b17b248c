"""Take the README's screenshots of the admin: `make screenshots` (or this file with the venv's python).

Starts a fresh `connectors demo` in a temporary folder, signs in as the demo administrator in
headless Chromium, submits the demo's import through the New Event Job form as a person would,
and saves the main pages at 1280 px wide as PNG next to this file (or into --out). It uses the
browser tests' own code (tests/e2e/demo_app.py, browser.py, pages.py), so the pictures show what
those tests check.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser import chromium, log_in, open_context, unavailable_reason  # noqa: E402
from tests.e2e.demo_app import running_demo  # noqa: E402
from tests.e2e.pages import (open_event_connectors, open_new_event_job, submit_job,  # noqa: E402
                             wait_for_run_end)

EVENT = "Summit 2026"


def take(out: Path) -> list[Path]:
    saved: list[Path] = []

    def shot(page, name: str, full_page: bool = True) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        saved.append(path)

    with tempfile.TemporaryDirectory(prefix="connectors-screens-") as folder, \
            running_demo(Path(folder)) as demo, chromium() as browser:
        context = open_context(browser)
        page = context.new_page()
        page.goto(demo.url + "login")
        shot(page, "login", full_page=False)
        log_in(page, demo.url, "admin")
        shot(page, "events", full_page=False)

        open_new_event_job(page, demo.url, EVENT, "Marketo", "Import Marketo Leads as Registrations")
        page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
        shot(page, "new-event-job")
        submit_job(page)
        wait_for_run_end(page)
        shot(page, "run")

        open_event_connectors(page, demo.url, EVENT)
        shot(page, "event-connectors", full_page=False)
        context.close()
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
