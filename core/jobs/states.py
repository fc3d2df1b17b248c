"""Run and job state transitions as pure functions (no I/O)."""
from __future__ import annotations

from typing import Mapping

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "queued": ("running", "cancelled"),
    "running": ("succeeded", "partially_failed", "quota_exhausted", "failed", "cancelled", "queued"),  # queued: lease expired
    "succeeded": (),
    "partially_failed": (),
    "quota_exhausted": (),
    "failed": (),
    "cancelled": (),
}


class InvalidTransition(ValueError):
    pass


def check_transition(current: str, new: str) -> None:
    if new not in TRANSITIONS.get(current, ()):
        raise InvalidTransition(f"a run cannot go from {current} to {new}")


def final_status(counters: Mapping[str, int], *, error: bool, cancelled: bool, quota: bool = False) -> str:
    """How a run ended: quota_exhausted or failed on an error, cancelled if asked, else by its
    records' outcomes."""
    if quota:
        return "quota_exhausted"
    if error:
        return "failed"
    if cancelled:
        return "cancelled"
    failed = counters.get("failed", 0)
    ok = sum(counters.get(k, 0) for k in ("created", "updated", "unchanged", "skipped"))
    if failed and not ok:
        return "failed"
    return "partially_failed" if failed else "succeeded"


def job_state_after_run(has_next_fire: bool, enabled: bool, listening: bool = False) -> str:
    """``listening``: no run left, but an event-triggered job whose window is still open."""
    if not enabled:
        return "disabled"
    if has_next_fire:
        return "scheduled"
    return "listening" if listening else "ended"
