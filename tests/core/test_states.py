import pytest

from connectors.jobs.states import InvalidTransition, check_transition, final_status, job_state_after_run


def test_transitions():
    check_transition("queued", "running")
    check_transition("running", "queued")  # lease expired, re-queued
    with pytest.raises(InvalidTransition):
        check_transition("succeeded", "running")
    with pytest.raises(InvalidTransition):
        check_transition("queued", "succeeded")


@pytest.mark.parametrize("counters,error,cancelled,expected", [
    ({"created": 3}, False, False, "succeeded"),
    ({}, False, False, "succeeded"),
    ({"created": 3, "failed": 1}, False, False, "partially_failed"),
    ({"failed": 2}, False, False, "failed"),
    ({"created": 3}, True, False, "failed"),
    ({"created": 3}, False, True, "cancelled"),
    ({"skipped": 1, "unchanged": 4}, False, False, "succeeded"),
])
def test_final_status(counters, error, cancelled, expected):
    assert final_status(counters, error=error, cancelled=cancelled) == expected


def test_job_state_after_run():
    assert job_state_after_run(True, True) == "scheduled"
    assert job_state_after_run(False, True) == "ended"
    assert job_state_after_run(False, False) == "disabled"
