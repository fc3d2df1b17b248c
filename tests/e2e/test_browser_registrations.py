"""A status changed from the Registrations view reaches Eloqua as an external activity, in a
real browser: the administrator submits "Create Eloqua Activity upon Reg Status Change" for
Summit 2026, changes an attendee from New to Attended, and the Eloqua sandbox's request journal
receives the activity (status change -> outbox -> relay -> bus -> event dispatcher -> the job's
on_event -> sandbox); the same for a session's status and "... upon Session Status Change".

The journal lives in the sandbox's process, so this module runs its own demo inside the test
process (``tests/e2e/embedded_demo.py``) instead of the shared ``demo_app``.
"""
from __future__ import annotations

import re
import time
import uuid

import pytest

from .browser import log_in, open_context
from .embedded_demo import embedded_demo
from .pages import expect, open_event_connectors, open_new_event_job, submit_job, wait_for_run_end

pytestmark = pytest.mark.browser

EVENT = "Summit 2026"
ACTIVITY_JOB = "Create Eloqua Activity upon Reg Status Change"
CREATE_ACTIVITY = r"(?i)/api/rest/2\.0/data/activity"
DELIVERY_SECONDS = 90  # the dispatcher's round trip on a loaded 2-core machine


@pytest.fixture(scope="module")
def demo(browser, tmp_path_factory):
    with embedded_demo(tmp_path_factory.mktemp("embedded-demo")) as running:
        yield running


@pytest.fixture
def page(browser, demo):
    context = open_context(browser)
    page = context.new_page()
    log_in(page, demo.url, "admin")
    yield page
    context.close()


def wait_for(what: str, found, seconds: float = DELIVERY_SECONDS):
    """Poll ``found()`` until it returns something truthy (a background thread does the work)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {seconds} s")


def test_status_change_on_the_registrations_page_creates_an_eloqua_activity(page, demo):
    eloqua = demo.sandboxes["eloqua"]
    open_new_event_job(page, demo.url, EVENT, "Oracle Eloqua", ACTIVITY_JOB)
    page.get_by_label("Job name").fill(f"Activities {uuid.uuid4().hex[:6]}")
    assert page.get_by_label("External asset type").input_value() == "Certain Event"
    assert "Attended = Attended" in page.get_by_label("Activity type per status").input_value()
    page.get_by_label("Create missing contacts").check()  # the demo's attendees are not in Eloqua yet
    submit_job(page)
    assert wait_for_run_end(page) == "Succeeded"  # the job's parameters were checked against Eloqua
    expect(page.get_by_text(re.compile("Parameters checked against Oracle Eloqua"))).to_be_visible()
    job_url = page.url

    open_event_connectors(page, demo.url, EVENT)
    page.get_by_role("navigation", name="SUMMIT26 pages").get_by_role("link", name="Registrations").click()
    page.get_by_role("heading", name="Registrations", level=1).wait_for()
    page.get_by_label("Status").select_option("New")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    first = page.get_by_role("region", name="Registrations of SUMMIT26").locator("tbody tr").first
    code = first.get_by_role("link").inner_text().strip()
    email = first.locator('[data-label="E-mail"]').inner_text().strip()
    with page.expect_navigation():
        first.get_by_role("link", name=code).click()
    assert page.get_by_label("New status", exact=True).input_value() == "New"

    activities_before = len(eloqua.calls("POST", CREATE_ACTIVITY))
    page.get_by_label("New status", exact=True).select_option("Attended")
    with page.expect_navigation():
        page.get_by_role("region", name=re.compile("^Status")).get_by_role("button", name="Change status").click()
    expect(page.get_by_text("Registration: status changed from New to Attended.")).to_be_visible()

    # The dispatcher delivers it in the background: watch the sandbox's journal.
    created = wait_for("activity in the Eloqua journal", lambda: [
        e for e in eloqua.calls("POST", CREATE_ACTIVITY)[activities_before:] if e.status == 201])
    assert len(created) == 1, [e.body for e in created]
    body = created[0].body
    assert (body["activityType"], body["assetType"], body["assetName"]) == ("Attended", "Certain Event", EVENT)
    contact = eloqua.calls("POST", r"(?i)/api/rest/1\.0/data/contact",
                           where=lambda e: (e.body or {}).get("emailAddress") == email)
    assert len(contact) == 1 and contact[0].status == 201  # created: "Create missing contacts" was ticked
    assert body["contactId"] == str(contact[0].response["id"])

    # The admin shows it too: the contact id kept on the attendee, the delivery sent.
    page.reload()
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text(str(contact[0].response["id"]))
    page.goto(job_url)
    expect(page.locator('[data-delivery-state="sent"]')).to_have_text("1")
    assert eloqua.journal.count("POST", CREATE_ACTIVITY) == activities_before + 1  # sent once, not again


SESSION_JOB = "Create Eloqua Activity upon Session Status Change"


def test_a_session_status_change_creates_one_activity_named_after_the_session(page, demo):
    eloqua = demo.sandboxes["eloqua"]
    open_new_event_job(page, demo.url, EVENT, "Oracle Eloqua", SESSION_JOB)
    page.get_by_label("Job name").fill(f"Session activities {uuid.uuid4().hex[:6]}")
    assert page.get_by_label("External asset type").input_value() == "Certain Session"
    page.get_by_label("Create missing contacts").check()
    submit_job(page)
    assert wait_for_run_end(page) == "Succeeded"  # checked against Eloqua: the asset type and its activity types

    open_event_connectors(page, demo.url, EVENT)
    page.get_by_role("navigation", name="SUMMIT26 pages").get_by_role("link", name="Registrations").click()
    first = page.get_by_role("region", name="Registrations of SUMMIT26").locator("tbody tr").first
    code = first.get_by_role("link").inner_text().strip()
    with page.expect_navigation():
        first.get_by_role("link", name=code).click()
    row = page.get_by_role("region", name=f"Sessions of {code}").locator("tbody tr").first
    session_code = row.locator("th code").inner_text().strip()
    title = row.locator("th").inner_text().replace(session_code, "", 1).strip()
    before = row.get_by_label(f"New status of session {session_code}").input_value()
    after = "No Show" if before == "Attended" else "Attended"

    activities_before = len(eloqua.calls("POST", CREATE_ACTIVITY))
    row.get_by_label(f"New status of session {session_code}").select_option(after)
    with page.expect_navigation():
        row.get_by_role("button", name="Change status").click()
    expect(page.get_by_text(re.compile(rf"{session_code}.*status changed from {before} to {after}\."))).to_be_visible()

    created = wait_for("session activity in the Eloqua journal", lambda: [
        e for e in eloqua.calls("POST", CREATE_ACTIVITY)[activities_before:] if e.status == 201])
    assert len(created) == 1, [e.body for e in created]  # the registration job does not take session changes
    body = created[0].body
    assert (body["activityType"], body["assetType"], body["assetName"]) == (after, "Certain Session", title)
    assert eloqua.journal.count("POST", CREATE_ACTIVITY) == activities_before + 1
