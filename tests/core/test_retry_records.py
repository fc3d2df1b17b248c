"""A retry run processes only the records asked for: the context carries their keys, the shared
registration selection narrows to them, and the run neither moves the watermark nor hands its
checkpoint to the next run."""
from sqlalchemy import delete

from connectors.db import transaction
from connectors.jobs import problems
from connectors.models import AttendeeType, Event, JobRun
from connectors.selection import key_identity, registration_codes_of

from .test_deliveries import harness  # noqa: F401 - the sample plugin's harness on both databases

PEOPLE = [{"id": str(i), "email": f"p{i}@example.com", "first": f"P{i}"} for i in range(1, 6)]


def queue_retry(h, run_id: int, keys: list[str]) -> int:
    with transaction(h.factory) as s:
        return problems.retry(s, s.get(JobRun, run_id), keys).id


def test_an_import_retry_writes_only_the_asked_for_record(harness):
    run_id = harness.submit("sample.import_people", {"people": PEOPLE, "attendee_type_code": "Speaker"})
    with transaction(harness.factory) as s:
        s.execute(delete(AttendeeType).where(AttendeeType.code == "Speaker"))
    assert harness.execute(run_id).counters == {"failed": 5}
    with transaction(harness.factory) as s:
        event = s.get(Event, s.get(JobRun, run_id).job.event_id)
        s.add(AttendeeType(event_id=event.id, code="Speaker", name="Speaker"))  # the cause, fixed
    retry = harness.execute(queue_retry(harness, run_id, ["p3@example.com"]))
    assert retry.status == "succeeded" and retry.counters == {"created": 1}
    assert [r["email"] for r in harness.registrations()] == ["p3@example.com"]
    with harness.factory() as s:
        outcome = problems.retry_outcome(s, s.get(JobRun, retry.run_id))
    assert (outcome.asked, outcome.fixed, outcome.still_failing) == (1, ["p3@example.com"], [])


def test_an_outbound_retry_selects_only_the_asked_for_registrations_and_keeps_the_watermark(harness):
    harness.run("sample.import_people", {"people": PEOPLE})
    codes = [r["registration_code"] for r in harness.registrations()]
    first = harness.run("sample.notify", {})
    assert first.counters == {"updated": 5}
    retry = harness.execute(queue_retry(harness, first.run_id, [f"{codes[1]} <p2@example.com>", codes[3]]))
    assert retry.status == "succeeded" and sum(retry.counters.values()) == 2  # two registrations, not five
    assert any("since the beginning" in line["message"] for line in retry.log)  # a retry ignores the watermark
    assert any("retry: only the registrations of the 2 record key(s)" in line["message"] for line in retry.log)
    following = harness.rerun(first.run_id)
    with harness.factory() as s:
        first_start = s.get(JobRun, first.run_id).started_at
    since_lines = [line["message"] for line in following.log if line["message"].startswith("since ")]
    assert since_lines and since_lines[0].startswith(f"since {first_start.isoformat()[:19]}"), since_lines
    assert sum(following.counters.values()) == 5


def test_keys_name_their_registration_codes_and_identity():
    assert registration_codes_of(["R1 <a@x.com>", "R 2 <b@x.com> tag", "R3"]) == ["R", "R 2", "R 2 <b@x.com>",
                                                                                "R 2 <b@x.com> tag", "R1", "R1 <a@x.com>", "R3"]
    assert key_identity("R1 <a@x.com>") == "R1" == key_identity("R1 <fixed@x.com>")
    assert key_identity("lead 7 <a@x.com>") == "lead 7" and key_identity("ann@example.com") == "ann@example.com"
