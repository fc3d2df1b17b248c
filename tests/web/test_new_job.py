"""New Event Job / New Account Job: the generated form, field errors, and a real submission."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from connectors.models import Job, JobRun, Outbox, PluginConfig, Schedule

NEW = "/events/EV1/connectors/new"
FORM = NEW + "?application=testapp&job_type=testapp.import"

GOOD = {"name": "Import VIPs", "p_list_name": "VIP list", "p_batch_size": "50", "p_update_existing": "y",
        "p_direction": "outbound", "p_attendee_type": "VIP", "run_mode": "now", "timezone": "Europe/Paris"}


def counts(world) -> tuple[int, int, int]:
    with world.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Job, JobRun, Outbox))


def errors_of(html: str, field_id: str) -> list[str]:
    match = re.search(rf'<ul class="errors" id="{field_id}-errors">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


def test_step_one_offers_configured_applications_and_scoped_job_types(admin):
    html = admin.get(NEW + "?application=testapp").get_data(as_text=True)
    assert '<label for="application">' in html and '<option value="testapp" selected>Test App</option>' in html
    assert "Import Test Records" in html and "Import Test Profiles" not in html  # event scope only
    html = admin.get("/account/connectors/new?application=testapp").get_data(as_text=True)
    assert "Import Test Profiles" in html and "Import Test Records" not in html


def test_no_application_without_an_enabled_configuration(admin, world):
    with world.session() as s, s.begin():
        s.get(PluginConfig, world.ids["config"]).enabled = False
    html = admin.get(NEW).get_data(as_text=True)
    assert "No application can run" in html and 'name="application"' not in html


def test_event_applications_restrict_the_picker(admin, world):
    from connectors.models import Event
    with world.session() as s, s.begin():
        s.get(Event, world.ids["ev1"]).enabled_applications = ["marketo"]
    html = admin.get(NEW + "?application=testapp").get_data(as_text=True)
    assert "Test App" not in html


def test_form_is_generated_from_the_params_schema(admin):
    html = admin.get(FORM).get_data(as_text=True)
    # String -> text input, required and labelled, with its description
    assert re.search(r'<label for="p_list_name">Static list <abbr title="required"', html)
    assert re.search(r'<input[^>]*id="p_list_name"[^>]*maxlength="100"[^>]*required', html)
    assert "The list to import." in html
    # Integer with Range -> number with min/max, default filled in
    assert re.search(r'<input[^>]*id="p_batch_size"[^>]*max="500"[^>]*min="1"[^>]*type="number"[^>]*value="100"', html)
    # Boolean -> checkbox, checked by its default
    assert re.search(r'<input checked[^>]*id="p_update_existing"[^>]*type="checkbox"', html)
    # OneOf -> select of its choices
    assert re.search(r'<select[^>]*id="p_direction"', html) and '<option selected value="inbound">' in html
    # event_choices -> select of the event's attendee types
    select_html = re.search(r'<select[^>]*id="p_attendee_type".*?</select>', html, re.S).group(0)
    assert all(f'value="{t}"' in select_html for t in ("Attendee", "Speaker", "Sponsor", "VIP"))
    # standard fields and schedule, each labelled; time zone defaults to the event's
    for field_id in ("name", "notify_email", "run_at", "frequency", "interval", "time_of_day", "start_at",
                     "end_at", "timezone"):
        assert f'<label for="{field_id}">' in html, field_id
    assert '<option selected value="Europe/Paris">' in html
    assert 'value="Import Test Records – EV1"' in html  # default job name
    assert "Submit Job" in html


def test_invalid_submit_shows_field_errors_and_writes_nothing(admin, world):
    before = counts(world)
    bad = {**GOOD, "p_list_name": "", "p_batch_size": "9999", "p_direction": "sideways",
           "p_attendee_type": "Astronaut", "run_mode": "recurring", "frequency": "daily", "interval": "1",
           "start_at": "2026-07-01T09:00", "end_at": "2026-06-01T09:00", "notify_email": "not-an-address"}
    response = admin.post(FORM, data=bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert errors_of(html, "p_list_name") == ["Missing data for required field."]
    assert errors_of(html, "p_batch_size") and "500" in errors_of(html, "p_batch_size")[0]
    assert errors_of(html, "p_direction") and errors_of(html, "p_attendee_type")
    assert errors_of(html, "end_at") == ["Must be after start_at."]
    assert errors_of(html, "notify_email") == ["Not a valid e-mail address."]
    # what was typed is kept
    assert 'value="9999"' in html and 'value="2026-07-01T09:00"' in html and 'value="Import VIPs"' in html
    assert counts(world) == before


def test_run_at_mode_needs_a_date(admin, world):
    before = counts(world)
    html = admin.post(FORM, data={**GOOD, "run_mode": "at", "run_at": ""}).get_data(as_text=True)
    assert errors_of(html, "run_at") == ["Choose a date and time, or run it now."]
    assert counts(world) == before


def test_valid_submit_writes_job_queued_run_and_outbox_row(admin, world):
    before = counts(world)
    response = admin.post(FORM, data=GOOD)
    assert response.status_code == 302
    with world.session() as s:
        job = s.scalar(select(Job).where(Job.name == "Import VIPs"))
        assert response.headers["Location"] == f"/jobs/{job.id}"
        assert job.event_id == world.ids["ev1"] and job.submitted_by_id == world.ids["admin"]
        assert job.params == {"list_name": "VIP list", "batch_size": 50, "update_existing": True,
                              "direction": "outbound", "attendee_type": "VIP"}
        run = s.scalar(select(JobRun).where(JobRun.job_id == job.id))
        assert run.status == "queued"
        outbox = s.scalars(select(Outbox)).all()
        assert any(row.payload == {"run_id": run.id, "attempt": 0} for row in outbox)
    assert counts(world) == (before[0] + 1, before[1] + 1, before[2] + 1)
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Import VIPs" in page and "Queued" in page and "VIP list" in page


def test_unchecked_checkbox_sends_false(admin, world):
    data = {k: v for k, v in GOOD.items() if k != "p_update_existing"}
    assert admin.post(FORM, data=data).status_code == 302
    with world.session() as s:
        assert s.scalar(select(Job.params).where(Job.name == "Import VIPs"))["update_existing"] is False


def test_recurring_submit_writes_schedule_without_run(admin, world):
    data = {**GOOD, "run_mode": "recurring", "frequency": "weekly", "interval": "1", "days_of_week": ["MO", "TH"],
            "time_of_day": "02:30", "start_at": "2030-01-01T00:00", "end_at": "2030-03-01T00:00"}
    before = counts(world)
    assert admin.post(FORM, data=data).status_code == 302
    with world.session() as s:
        job = s.scalar(select(Job).where(Job.name == "Import VIPs"))
        schedule = s.scalar(select(Schedule).where(Schedule.job_id == job.id))
        assert schedule.mode == "recurring" and "BYDAY=MO,TH" in schedule.rrule
        assert schedule.timezone == "Europe/Paris" and schedule.next_run_at is not None
    assert counts(world) == (before[0] + 1, before[1], before[2])
    html = admin.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Every Monday and Thursday at 02:30 Europe/Paris" in html


def test_account_job_submit(admin, world):
    response = admin.post("/account/connectors/new?application=testapp&job_type=testapp.profiles",
                          data={"name": "All profiles", "p_list_name": "Everyone", "p_limit": "5", "run_mode": "now",
                                "timezone": "UTC"})
    assert response.status_code == 302
    with world.session() as s:
        job = s.scalar(select(Job).where(Job.name == "All profiles"))
        assert job.event_id is None and job.params == {"list_name": "Everyone", "limit": 5}


def test_builder_cannot_post_an_account_job(builder, world):
    before = counts(world)
    response = builder.post("/account/connectors/new?application=testapp&job_type=testapp.profiles",
                            data={"p_list_name": "x", "run_mode": "now"})
    assert response.status_code == 403 and counts(world) == before


def test_event_page_cannot_submit_an_account_job_type(admin, world):
    before = counts(world)
    response = admin.post(NEW + "?application=testapp&job_type=testapp.profiles", data={"run_mode": "now"})
    assert response.status_code == 400 and counts(world) == before
