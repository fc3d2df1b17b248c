"""Third-Party Plugins in a real browser, on the running demo: the administrator fills Oracle
Eloqua's connection form for the demo's Eloqua sandbox, tests the connection on a worker, reads
the remote fields, edits the field mappings (transform, update policy, a new outbound row),
sees them kept after a reload, and sees the editor refuse invalid sets with the reason next to
the row. Fixtures: tests/e2e/conftest.py; steps: tests/e2e/pages.py.

Only the Eloqua configuration is changed here: the Marketo import the other browser tests run
reads Marketo's mappings, which stay as the demo seeded them.
"""
from __future__ import annotations

import re

import pytest

from .pages import expect

pytestmark = pytest.mark.browser

ELOQUA = "Oracle Eloqua"
WORKER_MS = 90_000  # a worker answers "Test connection" and "Discover fields"; the machine is loaded


def mapping_rows(page):
    return page.get_by_role("table", name="Field mappings, in order").locator("tbody tr")


def row_values(row) -> list[str]:
    """What a mapping row holds, as the person sees it: each select's and input's value, ticks as X / -."""
    return row.evaluate("""r => [...r.querySelectorAll('select, input:not([type=hidden])')]
        .filter(e => e.offsetParent !== null)
        .map(e => e.type === 'checkbox' ? (e.checked ? 'X' : '-') : e.value)""")


def save_mappings(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Save field mappings").click()


def open_eloqua_settings(page, base_url: str) -> str:
    """Third-Party Plugins -> Oracle Eloqua's Edit; returns the configuration page's address."""
    page.goto(base_url + "account/plugins/")
    with page.expect_navigation():
        page.get_by_role("row", name=re.compile(ELOQUA)).get_by_role("link", name="Edit").click()
    page.get_by_role("heading", name=re.compile(ELOQUA), level=1).wait_for()
    expect(page.get_by_role("button", name="Add mapping")).to_be_visible()  # plugins.js has run
    return page.url


def test_configure_eloqua_connection_and_field_mappings(admin_page, demo_app):
    page = admin_page
    settings_url = open_eloqua_settings(page, demo_app.url)

    # The connection form, filled for the sandbox the demo runs; the password is write-only.
    page.get_by_label("Company (site) name").fill("DemoCompany")
    page.get_by_label("User name").fill("demo.user")
    page.get_by_label("Password", exact=True).fill("demo-password")
    page.get_by_label("Login URL").fill(demo_app.sandbox_url(ELOQUA))
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Connection settings saved. Test the connection to check them.")).to_be_visible()
    assert page.get_by_label("Password", exact=True).input_value() == ""  # never rendered back
    expect(page.locator('[data-secret-state="password"]')).to_contain_text("set")
    assert "demo-password" not in page.content()

    # "Test connection" runs on a worker; the page follows it and shows the answer.
    with page.expect_navigation():
        page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Testing the connection on a worker…")).to_be_visible()
    check = page.locator('[data-task="check"]')
    expect(check).to_contain_text("OK", timeout=WORKER_MS)
    expect(check).to_contain_text(re.compile(r"Connected to Eloqua site DemoCompany .*contact fields available"))

    # The remote fields, read from Eloqua: remote names are checked against them from now on.
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Discover fields|Read fields again")).click()
    expect(page.get_by_text(re.compile(r"\d+ remote fields known"))).to_be_visible(timeout=WORKER_MS)
    expect(page.get_by_role("button", name="Add mapping")).to_be_visible()

    # Change a row (transform, update policy) and add an outbound one with the "Add mapping" button.
    rows = mapping_rows(page)
    before = rows.count()
    company = rows.filter(has=page.locator('option[value="profile.organization"]:checked')).first
    assert row_values(company)[:3] == ["inbound", "profile.organization", "C_Company"]
    company.get_by_label("Transform").select_option("trim")
    company.get_by_label("Update policy").select_option(label="only if blank")
    page.get_by_role("button", name="Add mapping").click()
    expect(rows).to_have_count(before + 1)
    added = rows.last
    expect(added.get_by_label("Direction")).to_be_focused()  # the new row takes the keyboard focus
    added.get_by_label("Direction").select_option("outbound")
    added.get_by_label("Certain field").select_option("registration.registration_code")
    added.get_by_label("Remote field").fill("C_Certain_Attendee_ID1")
    added.get_by_label("Transform").select_option("uppercase")
    added.get_by_label("Update policy").select_option(label="never")
    save_mappings(page)
    expect(page.get_by_text(re.compile(r"Field mappings saved \(\d+\)\."))).to_be_visible()

    page.reload()
    rows = mapping_rows(page)
    saved = [row_values(rows.nth(i)) for i in range(rows.count())]
    assert ["inbound", "profile.organization", "C_Company", "trim", "only_if_blank", "-", "-"] in saved
    assert ["outbound", "registration.registration_code", "C_Certain_Attendee_ID1", "uppercase", "never",
            "-", "-"] in saved
    history = page.get_by_role("region", name="Change history")
    expect(history.locator("tbody tr").first).to_contain_text("Ada Admin")
    expect(history.locator("tbody tr").first).to_contain_text("C_Certain_Attendee_ID1")

    # A second outbound match key: refused, with the reason on the row and nothing saved.
    new_row = rows.filter(has=page.locator('option[value="registration.registration_code"]:checked')).first
    new_row.get_by_label("Match key").check()
    save_mappings(page)
    expect(page.get_by_role("alert").filter(has_text="Mappings not saved.")).to_be_visible()
    refused = mapping_rows(page).filter(has=page.locator('input[aria-label="Match key"][aria-invalid="true"]'))
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(re.compile(r"Only one match key per direction: row \d+ is already the outbound"))

    # No outbound e-mail mapping: outbound jobs could not match anyone, so the set is refused.
    page.goto(settings_url)
    outbound_email = mapping_rows(page).filter(has=page.locator('option[value="outbound"]:checked')).filter(
        has=page.locator('option[value="profile.email"]:checked'))
    expect(outbound_email).to_have_count(1)
    outbound_email.get_by_role("button", name="Remove row").click()
    save_mappings(page)
    alert = page.get_by_role("alert").filter(has_text="Mappings not saved.")
    expect(alert).to_contain_text("The outbound mappings need one for profile.email")

    page.goto(settings_url)  # neither refused set was saved
    rows = mapping_rows(page)
    kept = [row_values(rows.nth(i)) for i in range(rows.count())]
    assert sum(r[:2] == ["outbound", "profile.email"] for r in kept) == 1
    assert [r for r in kept if r[1] == "registration.registration_code"][0][5] == "-"
