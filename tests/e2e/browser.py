"""Headless Debian Chromium driven by Playwright's sync API, for the browser tests and the
screenshot script. Plain functions (no pytest here), so docs/screenshots/take.py uses the same code.

The browser is the machine's ``/usr/bin/chromium`` (``make test`` installs it with
``.ci/chromium``); ``CONNECTORS_CHROMIUM`` points at another binary. Playwright's own browser
download is never used: this closed network cannot fetch it.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from .pages import LIVE_RECORDER

CHROMIUM = os.environ.get("CONNECTORS_CHROMIUM", "/usr/bin/chromium")
# No sandbox (we run as root), no GPU, and none of the background traffic that the closed
# network refuses (QUIC, component updates, sync, first-run pings).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}

STEP_TIMEOUT_MS = 20_000  # one click or wait; a loaded 2-core machine is slow, a hung page is not

#: role -> (login, password), the demo's seeded users.
USERS = {"admin": ("admin@demo.example", "demo-admin"), "builder": ("builder@demo.example", "demo-builder")}


def unavailable_reason() -> str | None:
    """Why no browser test can run here, or None when Playwright and Chromium are both present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright is not installed ({exc}); `make test` installs it with the test extra"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium when run as root "
                "(bash .ci/chromium)")
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``); every ``new_context`` gets a fresh, empty profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_context(browser: Any, viewport: dict = DESKTOP, storage_state: dict | None = None) -> Any:
    """A new browser context (own cookies and tabs) with the step timeout, recording the run
    page's live updates (``pages.LIVE_RECORDER``)."""
    context = browser.new_context(viewport=viewport, storage_state=storage_state)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.add_init_script(LIVE_RECORDER)
    return context


def log_in(page: Any, base_url: str, role: str) -> None:
    """Sign in through the login form as a demo user ("admin" or "builder"), as a person would."""
    login, password = USERS[role]
    page.goto(base_url + "login")
    page.get_by_label("Login (e-mail)").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url)


def signed_in_state(browser: Any, base_url: str, role: str) -> dict:
    """The cookies of a signed-in session, to open new contexts already logged in
    (``browser.new_context(storage_state=...)``) without typing the password again."""
    context = open_context(browser)
    try:
        log_in(context.new_page(), base_url, role)
        return context.storage_state()
    finally:
        context.close()


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
