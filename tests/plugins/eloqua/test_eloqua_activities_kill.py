"""A dispatcher process really killed (SIGKILL) in the middle of a delivery: before its create
reached Eloqua the change is sent once by another; after Eloqua made the activity but before the
ledger recorded it, ``verify`` finds the activity and settles the row — no second create."""
from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta

import pytest

from connectors.jobs import deliveries
from connectors.models import utcnow

from . import delivery_worker
from .activity_support import CREATE_ACTIVITY, accepted_job, attendee, change, deliver, delivery, plan
from .support import pod_calls

CONTACT_SEARCH = r"(?i)/api/rest/1\.0/data/contacts"


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("moment", ["before-create", "after-create"])
def test_a_dispatcher_killed_mid_delivery_leaves_exactly_one_activity(harness, sandbox, moment):
    accepted_job(harness)
    person = sandbox.all_contacts()[5]
    code = attendee(harness, person["C_EmailAddress"])
    [delivery_id] = plan(harness, change(harness, code, "Attended"))
    if moment == "before-create":  # it hangs looking up the contact: nothing reached Eloqua's activities
        sandbox.hang_next(1, seconds=60, path=CONTACT_SEARCH)
    else:  # Eloqua makes the activity, then the answer never comes
        sandbox.hang_next(1, seconds=60, after_effect=True, path=CREATE_ACTIVITY)
    ctx = multiprocessing.get_context("spawn")
    url = harness.engine.url.render_as_string(hide_password=False)
    doomed = ctx.Process(target=delivery_worker.deliver, args=(url, delivery_id))
    doomed.start()
    try:
        if moment == "before-create":
            wait_for(lambda: sandbox.in_flight.count >= 1 and delivery(harness, delivery_id).state == "sending",
                     "the doomed dispatcher to be searching the contact")
        else:
            wait_for(lambda: len(sandbox.all_activities()) == 1, "Eloqua to make the activity")
    finally:
        doomed.kill()
        doomed.join(10)
    sandbox.hangs.release()
    assert delivery(harness, delivery_id).state == "sending"  # what a killed dispatcher leaves behind
    expired = utcnow() + timedelta(seconds=61)  # its lease runs out
    settled = deliveries.settle_interrupted(harness.factory, harness.registry, harness.box, now=expired)
    assert settled == {delivery_id: "pending" if moment == "before-create" else "sent"}
    if moment == "before-create":
        assert deliver(harness, delivery_id, "survivor") == "sent"
    sandbox.quiesce()
    assert len(sandbox.all_activities()) == 1 and len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == 1
    assert delivery(harness, delivery_id).state == "sent"
