"""A run whose worker died (lease expired, still "running") is re-queued and resumed elsewhere."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from connectors.models import JobRun, Outbox, utcnow

from .slowimport_plugin import IMPORT, expected_emails
from .support import bus_running, wait_for


def test_expired_lease_is_requeued_as_next_attempt_and_resumes_from_its_checkpoint(harness, broker_url, namespace):
    run_id = harness.submit(IMPORT, {"total": 12, "page_size": 4})
    # A worker took the command (it was sent), saved pages 0 and 1, then died: its lease lapsed.
    with harness.factory.begin() as s:
        s.execute(update(Outbox).where(Outbox.message_id == f"run_{run_id}_0").values(sent_at=utcnow()))
        s.execute(update(JobRun).where(JobRun.id == run_id).values(
            status="running", worker="dead-worker", lease_until=utcnow() - timedelta(seconds=1),
            checkpoint={"page": 2}, counters={"created": 8}, started_at=utcnow()))

    with bus_running(harness, broker_url, namespace):
        result = wait_for(lambda: (r := harness.result(run_id)).status == "succeeded" and r, what="the resumed run")

    with harness.factory() as s:
        run = s.get(JobRun, run_id)
        assert (run.attempt, run.worker != "dead-worker", run.lease_until) == (1, True, None)
        assert s.scalar(select(Outbox.sent_at).where(Outbox.message_id == f"run_{run_id}_1")) is not None
    messages = [line["message"] for line in result.log]
    assert "worker lease expired; re-queued as attempt 1" in messages
    assert "starting from page 2" in messages and "starting from page 0" not in messages
    assert result.counters == {"created": 12}  # 8 from the dead attempt, 4 from this one
    assert [r["email"] for r in harness.registrations()] == expected_emails(12)[8:]  # only pages 2.. ran here
