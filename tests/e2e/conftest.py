"""Browser-test fixtures: one demo and one headless Chromium for the whole session, and a fresh
signed-in page per test.

Use them from any ``tests/e2e/test_browser_*.py`` module (mark it ``pytestmark = pytest.mark.browser``):

- ``demo_app``: the running ``connectors demo`` (``tests/e2e/demo_app.Demo``: ``.url`` ends in "/",
  ``.env`` reaches it from the CLI). Started once per session in its own folder and SQLite file, on
  free ports; every browser test shares it, so a test creates what it needs (its own job) and
  never expects an empty event.
- ``browser``: Playwright's ``Browser`` on Debian Chromium (``tests/e2e/browser.py``).
- ``page_as(role, viewport=DESKTOP)``: a new ``Page`` in its own context (own cookies), signed in
  as ``"admin"`` (admin@demo.example) or ``"builder"`` (builder@demo.example), or anonymous with
  ``None``; ``viewport=PHONE`` for 375 px. Contexts close after the test. Each page records the
  run page's live updates (``pages.live_updates``).
- ``admin_page`` / ``builder_page``: ``page_as("admin")`` / ``page_as("builder")`` at desktop width.
- ``signed_in(role)``: that role's session cookies, for a module-scoped context of your own
  (``browser.open_context(browser, storage_state=signed_in("admin"))``; close it yourself).

A failed test that used ``page_as`` saves a full-page screenshot of each of its pages under
pytest's base temp folder (``browser-failures/``) and names them in its report.

Steps a person takes (open an event's Connectors, fill the New Event Job form, wait for a run)
are in ``tests/e2e/pages.py``. Without Playwright or Chromium the browser tests skip with the
reason; under ``CI=true`` they fail instead, as the service fixtures in ``tests/conftest.py`` do.
"""
from __future__ import annotations

import os

import pytest

from .browser import DESKTOP, chromium, open_context, signed_in_state, unavailable_reason
from .demo_app import DemoFailed, running_demo


def require_browser() -> None:
    """Skip when Playwright or Chromium is missing on a developer's machine; fail under CI."""
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must have it")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    require_browser()
    with chromium() as running:
        yield running


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory):
    try:
        with running_demo(tmp_path_factory.mktemp("browser-demo")) as demo:
            yield demo
    except DemoFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def signed_in(browser, demo_app):
    """``signed_in(role)``: cookies of a signed-in session (for ``browser.open_context``), each
    role logging in through the form once per session."""
    states: dict[str, dict] = {}

    def state(role: str) -> dict:
        if role not in states:
            states[role] = signed_in_state(browser, demo_app.url, role)
        return states[role]
    return state


@pytest.fixture
def page_as(browser, demo_app, signed_in):
    contexts = []

    def open_page(role: str | None, viewport: dict = DESKTOP):
        context = open_context(browser, viewport, signed_in(role) if role else None)
        contexts.append(context)
        return context.new_page()
    open_page.contexts = contexts  # for the screenshots of a failed test
    yield open_page
    for context in contexts:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a browser test fails, save what its pages showed and name the files in the report."""
    outcome = yield
    report = outcome.get_result()
    opener = getattr(item, "funcargs", {}).get("page_as")
    if report.when != "call" or not report.failed or opener is None:
        return
    folder = item.config._tmp_path_factory.getbasetemp() / "browser-failures"
    folder.mkdir(exist_ok=True)
    saved = []
    for n, page in enumerate(p for context in opener.contexts for p in context.pages):
        path = folder / f"{item.name}-{n}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            saved.append(f"{path} ({page.url})")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            saved.append(f"{path}: no screenshot ({exc})")
    report.sections.append(("browser screenshots", "\n".join(saved)))


@pytest.fixture
def admin_page(page_as):
    return page_as("admin")


@pytest.fixture
def builder_page(page_as):
    return page_as("builder")
