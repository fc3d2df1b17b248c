"""A run's problems: filtered, paged, exported as CSV safe for spreadsheets, dismissed, retried
by a new run of the job whose records tell which keys are fixed."""
import csv
import io

import pytest
from sqlalchemy import delete, select

from connectors.db import transaction
from connectors.jobs import problems
from connectors.jobs.problems import ProblemFilter, RetryRefused
from connectors.jobs.submit import set_enabled
from connectors.models import AttendeeType, Event, Job, JobRun, RunRecord

from .test_deliveries import harness  # noqa: F401 - the sample plugin's harness on both databases

PEOPLE = [{"id": "1", "email": "ann@example.com", "first": "Ann"},
          {"id": "2", "email": "", "first": "=HYPERLINK(\"http://evil\")"},
          {"id": "3", "email": "cid@example.com", "first": "Cid"}]


def failed_run(h):
    """An import whose attendee type was removed from the event after the job was submitted: every
    registration fails, the e-mail-less person is skipped."""
    run_id = h.submit("sample.import_people", {"people": PEOPLE, "attendee_type_code": "Speaker"})
    with transaction(h.factory) as s:
        s.execute(delete(AttendeeType).where(AttendeeType.code == "Speaker"))
    result = h.execute(run_id)
    assert result.counters.get("failed") == 2 and result.counters.get("skipped") == 1, result.records
    return result.run_id


def get_run(s, run_id):
    return s.get(JobRun, run_id)


def test_filters_by_outcome_stage_code_and_text(harness):
    run_id = failed_run(harness)
    with harness.factory() as s:
        run = get_run(s, run_id)
        everything = problems.page(s, run, ProblemFilter())
        assert everything.total == 3 and [r.outcome for r in everything.records] == ["skipped", "failed", "failed"]
        assert problems.page(s, run, ProblemFilter(outcome="skipped")).total == 1
        code = everything.records[1].code
        assert problems.page(s, run, ProblemFilter(code=code)).total == 2
        assert problems.page(s, run, ProblemFilter(stage="load")).total == 3
        assert problems.page(s, run, ProblemFilter(stage="read")).total == 0
        assert [r.record_key for r in problems.page(s, run, ProblemFilter(text="CID@")).records] == ["cid@example.com"]
        assert problems.page(s, run, ProblemFilter(text="%")).total == 0  # a wildcard is a plain character
        assert problems.choices(s, run) == {"stages": ["load"], "codes": sorted({r.code for r in everything.records})}
        second = problems.page(s, run, ProblemFilter(), number=2, per_page=2)
        assert (second.pages, len(second.records), second.records[0].record_key) == (2, 1, "cid@example.com")
        assert problems.page(s, run, ProblemFilter(), number=99, per_page=2).page == 2


def test_filter_from_a_query_string_drops_unknown_values():
    flt = ProblemFilter.from_args({"outcome": "created", "show": "everything", "text": "  ann  ", "code": "X"})
    assert flt == ProblemFilter(outcome="", code="X", text="ann", show="open")
    assert flt.as_args() == {"code": "X", "text": "ann"}


def test_csv_escapes_cells_a_spreadsheet_would_run(harness):
    run_id = failed_run(harness)
    with transaction(harness.factory) as s:
        s.add(RunRecord(run_id=run_id, record_key="=cmd|' /C calc'!A0", outcome="failed", stage="load",
                        code="-1", message="@SUM(1+1), \"quoted\"\nsecond line"))
    with harness.factory() as s:
        text = "".join(problems.csv_lines(s, get_run(s, run_id), ProblemFilter(), batch=2))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(problems.CSV_COLUMNS) and len(rows) == 5
    assert rows[4][:5] == ["'=cmd|' /C calc'!A0", "failed", "load", "'-1", "'@SUM(1+1), \"quoted\"\nsecond line"]
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert [problems.safe_cell(v) for v in ("+1", "a=b", None, 5)] == ["'+1", "a=b", "", "5"]


def test_dismiss_hides_records_from_the_open_problems_only(harness):
    run_id = failed_run(harness)
    with transaction(harness.factory) as s:
        run = get_run(s, run_id)
        first = problems.page(s, run, ProblemFilter()).records[0]
        assert problems.dismiss(s, run, "Ada", [first.id, 999_999]) == 1
        assert problems.dismiss(s, run, "Ada", [first.id]) == 0  # already dismissed
    with harness.factory() as s:
        run = get_run(s, run_id)
        assert problems.open_count(s, run_id) == 2
        dismissed = problems.page(s, run, ProblemFilter(show="dismissed")).records
        assert [(r.id, r.dismissed_by) for r in dismissed] == [(first.id, "Ada")] and dismissed[0].dismissed_at
        assert problems.page(s, run, ProblemFilter(show="all")).total == 3
    with transaction(harness.factory) as s:  # "dismiss all" of a filter
        assert problems.dismiss(s, get_run(s, run_id), "Ada", flt=ProblemFilter(text="ann")) == 1
    with harness.factory() as s:
        assert problems.open_count(s, run_id) == 1


def test_retry_runs_the_job_again_and_tells_which_keys_are_fixed(harness):
    run_id = failed_run(harness)
    with transaction(harness.factory) as s:
        run = get_run(s, run_id)
        keys = problems.keys_to_retry(s, run)
        assert keys == ["2", "ann@example.com", "cid@example.com"]
        event = s.get(Event, run.job.event_id)
        s.add(AttendeeType(event_id=event.id, code="Speaker", name="Speaker"))  # the cause, fixed
        retry_run = problems.retry(s, run, keys)
        retry_id = retry_run.id
        assert (retry_run.trigger, retry_run.retry_of_id, retry_run.status) == ("retry", run_id, "queued")
        with pytest.raises(RetryRefused, match="already queued or running"):
            problems.retry(s, run, keys)
    with harness.factory() as s:
        assert problems.retry_outcome(s, get_run(s, retry_id)) is None  # not run yet
    result = harness.execute(retry_id)
    assert result.counters.get("created") == 2 and result.counters.get("skipped") == 1
    with harness.factory() as s:
        outcome = problems.retry_outcome(s, get_run(s, retry_id))
    assert (outcome.asked, outcome.still_failing, outcome.fixed) == (3, ["2"], ["ann@example.com", "cid@example.com"])
    assert len(harness.registrations()) == 2  # the re-run is idempotent: nothing twice


def test_retry_is_refused_for_a_disabled_job_or_no_keys(harness):
    run_id = failed_run(harness)
    with transaction(harness.factory) as s:
        run = get_run(s, run_id)
        with pytest.raises(RetryRefused, match="no records"):
            problems.retry(s, run, [])
        set_enabled(s, s.get(Job, run.job_id), False)
        with pytest.raises(RetryRefused, match="disabled"):
            problems.retry(s, run, ["ann@example.com"])
        assert s.scalar(select(JobRun.id).where(JobRun.trigger == "retry")) is None
