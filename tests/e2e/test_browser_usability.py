"""The admin's main pages on a phone and at 1280 px, in a real browser, on the running demo: none
scrolls sideways (a wide table scrolls inside its own container, not the page), every visible
input, select and textarea has an accessible name (a <label>, aria-label or aria-labelledby;
buttons are named by their text), and the keyboard focus is visible.
Fixtures: tests/e2e/conftest.py; steps: tests/e2e/pages.py.
"""
from __future__ import annotations

import re
import uuid

import pytest

from .browser import DESKTOP, open_context
from .pages import open_new_event_job, submit_job, wait_for_run_end

pytestmark = pytest.mark.browser

PHONE_390 = {"width": 390, "height": 844}
EVENT = "Summit 2026"

#: Visible form controls without an accessible name, described for the failure message.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => !['hidden', 'submit', 'button', 'reset', 'image'].includes(e.type) && e.getClientRects().length > 0)
  .filter(e => {
    const byLabel = [...(e.labels || [])].some(l => l.textContent.trim());
    const byAria = (e.getAttribute('aria-label') || '').trim();
    const byIds = (e.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .some(id => { const t = document.getElementById(id); return t && t.textContent.trim(); });
    return !(byLabel || byAria || byIds);
  })
  .map(e => e.outerHTML.slice(0, 160))"""

#: What sticks out of the viewport (outside scroll containers), for the failure message.
STICKING_OUT = """() => { const width = window.innerWidth; const found = [];
  for (const e of document.body.querySelectorAll('*')) {
    const box = e.getBoundingClientRect();
    const classes = typeof e.className === 'string' && e.className ? '.' + e.className.split(' ').join('.') : '';
    if (box.width && box.right > width + 0.5 && !e.closest('.table-wrap'))
      found.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + classes + ' right=' + Math.round(box.right));
  }
  return found.slice(0, 10); }"""


@pytest.fixture(scope="module")
def addresses(browser, demo_app, signed_in):
    """The pages to check, found as a person finds them: a Marketo import run with its problems,
    Oracle Eloqua's configuration, a registration."""
    context = open_context(browser, storage_state=signed_in("admin"))
    page = context.new_page()
    open_new_event_job(page, demo_app.url, EVENT, "Marketo", "Import Marketo Leads as Registrations")
    page.get_by_label("Job name").fill(f"Phone check {uuid.uuid4().hex[:6]}")
    page.get_by_label("Static list name").fill("SUMMIT26 Invitees")
    submit_job(page)
    wait_for_run_end(page)
    job = page.url
    problems = page.get_by_role("link", name=re.compile("Open the problems")).get_attribute("href")
    schedule = page.get_by_role("link", name="Edit schedule").first.get_attribute("href")
    page.goto(demo_app.url + "account/plugins/")
    eloqua = page.get_by_role("row", name=re.compile("Oracle Eloqua"))
    plugin = eloqua.get_by_role("link", name="Edit").get_attribute("href")
    page.goto(demo_app.url + "events/SUMMIT26/registrations")
    registrations = page.get_by_role("region", name="Registrations of SUMMIT26")
    registration = registrations.get_by_role("link").first.get_attribute("href")
    context.close()
    base = demo_app.url.rstrip("/")
    return {"JOB": job, "PROBLEMS": base + problems, "SCHEDULE": base + schedule, "PLUGIN": base + plugin,
            "REGISTRATION": base + registration}


PAGES = [
    pytest.param(None, "login", id="login"),
    pytest.param("admin", "", id="events"),
    pytest.param("admin", "events/SUMMIT26/connectors", id="event-connectors"),
    pytest.param("admin", "account/connectors", id="account-connectors"),
    pytest.param("admin", "events/SUMMIT26/connectors/new?application=marketo"
                          "&job_type=marketo.import_leads_as_registrations", id="new-job-form"),
    pytest.param("admin", "JOB", id="job"),
    pytest.param("admin", "PROBLEMS", id="problems"),
    pytest.param("admin", "SCHEDULE", id="edit-schedule"),
    pytest.param("admin", "account/plugins/", id="plugins"),
    pytest.param("admin", "PLUGIN", id="plugin-mappings"),
    pytest.param("admin", "events/SUMMIT26/registrations", id="registrations"),
    pytest.param("admin", "REGISTRATION", id="registration"),
    pytest.param("admin", "api/v1/docs", id="api-docs"),
    pytest.param("admin", "account/api-tokens/", id="api-tokens"),
    pytest.param("builder", "events/SUMMIT26/connectors", id="builder-event-connectors"),
]


@pytest.mark.parametrize("viewport", [pytest.param(PHONE_390, id="390px"), pytest.param(DESKTOP, id="1280px")])
@pytest.mark.parametrize("role,path", PAGES)
def test_page_fits_the_width_and_labels_every_input(page_as, demo_app, addresses, role, path, viewport):
    page = page_as(role, viewport=viewport)
    response = page.goto(addresses.get(path) or demo_app.url + path)
    assert response.status == 200, page.url
    page.wait_for_load_state("load")  # the deferred scripts have shown or hidden their parts
    page.locator("main h1").first.wait_for()
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{page.url} is {scroll_width} px wide at {inner_width} px: " \
                                        f"{page.evaluate(STICKING_OUT)}"
    assert page.evaluate(UNLABELLED) == [], f"inputs without a label on {page.url}"


def focused(page) -> str:
    return page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")


def test_keyboard_focus_is_visible(page_as, demo_app):
    page = page_as(None, viewport=PHONE_390)
    page.goto(demo_app.url + "login")
    page.wait_for_load_state("load")
    assert focused(page) == "login"  # the form is ready to type into
    page.keyboard.press("Tab")
    assert focused(page) == "password"
    outline = page.get_by_label("Password").evaluate(
        "e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]")
    assert outline[0] != "none" and outline[1] >= 2, outline  # the focus ring shows where the keys go
    page.keyboard.press("Tab")
    assert focused(page) == "submit"
    for _ in range(3):  # past the end of the page, round to its first link: "Skip to content", shown when focused
        page.keyboard.press("Tab")
        if focused(page) == "Skip to content":
            break
    assert focused(page) == "Skip to content"
    assert page.get_by_role("link", name="Skip to content").bounding_box()["x"] >= 0
