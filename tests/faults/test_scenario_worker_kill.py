"""Fault: ``connectors worker`` SIGKILLed three times during one Eloqua contact import — once
the export is started but no page saved, once the first page is saved, once progress is past
half — and a fresh worker started after each kill. The run must end ``succeeded`` with every
contact of the list a registration of the event exactly once (no profile created twice), and no
message dead-lettered. Recovery: from the replacement worker's start to the run moving on (a page
past the checkpoint the kill left), and to the run's end after the last kill."""
from __future__ import annotations

import time

from connectors.models import Profile

from .support import (count_rows, dead_letters, dead_queue_depth, record_recovery, registrations_of, run_of,
                      wait_until)

PEOPLE, PAGE = 600, 50


def test_a_worker_killed_at_three_points_of_an_import_loses_and_duplicates_nothing(stack):
    stack.build(people=PEOPLE, latency=0.05)  # the sandbox's per-call latency keeps pages apart
    stack.start("relay", "worker")
    profiles_before = count_rows(stack.services, Profile)
    run_id = stack.submit_import(page_size=PAGE)

    def checkpoint() -> dict:
        return run_of(stack.services, run_id).checkpoint or {}

    points = [("export started, no page saved", lambda c: "export" in c and c.get("done", 0) == 0),
              ("first page saved", lambda c: c.get("done", 0) >= PAGE),
              ("progress past half", lambda c: c.get("done", 0) >= PEOPLE // 2)]
    label = "worker"
    for attempt, (point, reached) in enumerate(points, start=1):
        wait_until(lambda: reached(checkpoint()), 120, f"the import to reach: {point}", step=0.05)
        stack.processes.kill(label)
        left = checkpoint().get("done", 0)
        assert run_of(stack.services, run_id).status == "running"
        label = f"worker-{attempt + 1}"
        restarted = time.monotonic()
        stack.processes.start("worker", label)
        wait_until(lambda: run_of(stack.services, run_id).attempt == attempt and
                   (checkpoint().get("done", 0) > left or run_of(stack.services, run_id).status == "succeeded"),
                   120, f"attempt {attempt} to resume past {left} contacts")
        record_recovery("worker SIGKILL during an import", point, time.monotonic() - restarted,
                        lease_seconds=stack.env["CONNECTORS_LEASE_SECONDS"], people=PEOPLE, page=PAGE)

    done = wait_until(lambda: (r := run_of(stack.services, run_id)).status not in ("queued", "running") and r,
                      180, "the import to finish")
    assert (done.status, done.attempt) == ("succeeded", len(points)), done.error
    assert registrations_of(stack.services, stack.import_event_id) == (PEOPLE, PEOPLE)  # 0 lost, 0 twice
    assert count_rows(stack.services, Profile) == profiles_before  # each contact found its profile again
    assert dead_letters(stack.services) == []
    assert dead_queue_depth(stack.broker_url, stack.namespace) == 0
