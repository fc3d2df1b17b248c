"""Dead letters in the database: recorded once however often they arrive, listed newest first
and filtered, replayed through the outbox with their original address, dropped for the audit."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from connectors import dead_letters
from connectors.db import transaction
from connectors.models import DeadLetter, Job, JobRun, Outbox, PluginConfig
from connectors.seed import get_or_create_account

DIED = datetime(2026, 12, 8, 10, 0, tzinfo=timezone.utc)


def envelope(message_id: str, run_id: int, type: str = "run.requested") -> str:
    return json.dumps({"id": message_id, "type": type, "version": 1, "occurred_at": "2026-12-08T09:59:00Z",
                       "payload": {"run_id": run_id, "attempt": 0}})


def a_run(session, code: str) -> tuple[int, int]:
    """An account with one job and one run: (account id, run id)."""
    account = get_or_create_account(session, code, f"{code} Ltd")
    session.flush()
    config = PluginConfig(account_id=account.id, application="testapp", name="Test")
    session.add(config)
    session.flush()
    job = Job(account_id=account.id, plugin_config_id=config.id, job_type="testapp.import", name="J", params={})
    session.add(job)
    session.flush()
    run = JobRun(job_id=job.id)
    session.add(run)
    session.flush()
    return account.id, run.id


def record(session, message_id="run_1_0", run_id=1, died_at=DIED, queue="connectors.runs.v1", body=None, **extra):
    options = {"reason": "delivery_limit", "message_type": "run.requested", "exchange": "connectors.commands",
               "routing_key": "runs", "headers": {}, **extra}
    return dead_letters.record(session, body=body if body is not None else envelope(message_id, run_id),
                               queue=queue, died_at=died_at, message_id=message_id, **options)


def test_recording_is_idempotent_by_message_id_and_time_of_death(factory, caplog):
    with transaction(factory) as s:
        account_id, run_id = a_run(s, "ACME")
        first, created = record(s, "run_7_0", run_id, headers={"x-death": [{"time": DIED, "count": 5}]})
        again, created_again = record(s, "run_7_0", run_id)
        later, created_later = record(s, "run_7_0", run_id, died_at=DIED + timedelta(minutes=5))
    assert (created, created_again, created_later) == (True, False, True)
    assert again.id == first.id != later.id
    with factory() as s:
        row = s.get(DeadLetter, first.id)
        assert (row.status, row.account_id, row.exchange, row.routing_key, row.reason) == (
            "open", account_id, "connectors.commands", "runs", "delivery_limit")
        assert row.headers == {"x-death": [{"time": DIED.isoformat(), "count": 5}]}
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 2
    assert sum("dead letter" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records) == 2


def test_unreadable_and_huge_bodies_are_kept_without_an_account(factory):
    with transaction(factory) as s:
        garbled, _ = dead_letters.record(s, body=b"{not json", reason="rejected", queue="q", died_at=None)
        huge, _ = dead_letters.record(s, body="x" * (dead_letters.BODY_LIMIT + 10), reason="rejected", queue="q",
                                      died_at=DIED)
        unknown_run, _ = record(s, "run_999_0", 999)
    assert (garbled.account_id, garbled.body, garbled.message_id) == (None, "{not json", None)
    assert huge.body_truncated and "truncated" in huge.body and len(huge.body) < dead_letters.BODY_LIMIT + 200
    assert unknown_run.account_id is None


def test_list_filters_by_status_queue_and_account_newest_first_in_pages(factory):
    with transaction(factory) as s:
        acme, acme_run = a_run(s, "ACME")
        other, other_run = a_run(s, "OTHER")
        ids = [record(s, f"run_{acme_run}_{n}", acme_run, died_at=DIED + timedelta(minutes=n))[0].id for n in range(3)]
        other_id = record(s, f"run_{other_run}_0", other_run, queue="connectors.status-events.v1")[0].id
        dead_letters.drop(s, s.get(DeadLetter, ids[0]), "cli")
    with factory() as s:
        assert [d.id for d in dead_letters.list_dead_letters(s).items] == [ids[2], ids[1], other_id]
        assert [d.id for d in dead_letters.list_dead_letters(s, status=None, account_id=acme).items] == ids[::-1]
        assert [d.id for d in dead_letters.list_dead_letters(s, queue="connectors.status-events.v1").items] == [other_id]
        page = dead_letters.list_dead_letters(s, per_page=2, page=2)
        assert ([d.id for d in page.items], page.total, page.pages) == ([other_id], 3, 2)
        assert dead_letters.get(s, other_id, account_id=acme) is None
        assert dead_letters.get(s, other_id, account_id=other).id == other_id
        assert dead_letters.count_open(s) == {"connectors.runs.v1": 2, "connectors.status-events.v1": 1}


def test_replay_writes_one_outbox_row_with_the_original_address_and_marks_it_replayed(factory):
    with transaction(factory) as s:
        _, run_id = a_run(s, "ACME")
        letter, _ = record(s, f"run_{run_id}_0", run_id)
    with transaction(factory) as s:
        row = dead_letters.replay(s, s.get(DeadLetter, letter.id), "cli")
    with factory() as s:
        rows = list(s.scalars(select(Outbox)))
        assert len(rows) == 1 and rows[0].id == row.id
        assert (rows[0].message_id, rows[0].exchange, rows[0].routing_key, rows[0].type, rows[0].payload,
                rows[0].sent_at) == (f"run_{run_id}_0", "commands", "runs", "run.requested",
                                     {"run_id": run_id, "attempt": 0}, None)
        replayed = s.get(DeadLetter, letter.id)
        assert (replayed.status, replayed.handled_by, replayed.replayed_at is not None) == ("replayed", "cli", True)
        with pytest.raises(dead_letters.DeadLetterError, match="already replayed"):
            dead_letters.replay(s, replayed, "cli")
        assert dead_letters.count_open(s) == {}


def test_replay_replaces_the_original_outbox_row_when_the_outbox_still_has_it(factory):
    with transaction(factory) as s:
        _, run_id = a_run(s, "ACME")
        sent = Outbox(message_id=f"run_{run_id}_0", exchange="commands", routing_key="runs", type="run.requested",
                      payload={"run_id": run_id, "attempt": 0}, sent_at=DIED)
        s.add(sent)
        letter, _ = record(s, f"run_{run_id}_0", run_id)
    with transaction(factory) as s:
        dead_letters.replay(s, s.get(DeadLetter, letter.id), "7")
    with factory() as s:
        rows = list(s.scalars(select(Outbox)))
        assert [(r.message_id, r.sent_at) for r in rows] == [(f"run_{run_id}_0", None)]


def test_what_cannot_be_replayed_says_why_and_drop_keeps_it_for_the_audit(factory):
    with transaction(factory) as s:
        garbled, _ = dead_letters.record(s, body="{not json", reason="rejected", queue="q", died_at=DIED,
                                         exchange="connectors.commands", routing_key="runs")
        with pytest.raises(dead_letters.DeadLetterError, match="not a readable message envelope"):
            dead_letters.replay(s, garbled, "cli")
        elsewhere, _ = record(s, "run_1_0", 1, exchange="amq.topic")
        with pytest.raises(dead_letters.DeadLetterError, match="not one the relay publishes to"):
            dead_letters.replay(s, elsewhere, "cli")
        invalid, _ = record(s, "run_x_0", 1, body=json.dumps({"id": "run_x_0", "type": "run.requested",
                                                                "payload": {"run_id": "one"}}))
        with pytest.raises(dead_letters.DeadLetterError, match="would be rejected again"):
            dead_letters.replay(s, invalid, "cli")
        dead_letters.drop(s, garbled, "42")
    with factory() as s:
        row = s.get(DeadLetter, garbled.id)
        assert (row.status, row.handled_by, row.dropped_at is not None) == ("dropped", "42", True)
        assert dead_letters.list_dead_letters(s).total == 2  # the two that could not be replayed
        assert dead_letters.list_dead_letters(s, status="dropped").total == 1
        with pytest.raises(dead_letters.DeadLetterError, match="already dropped"):
            dead_letters.drop(s, row, "cli")
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0


def test_a_status_event_replays_to_the_events_exchange_under_its_own_id(factory):
    payload = {"id": "evt_1", "type": "registration.status_changed", "account_code": "ACME", "event_code": "EV",
               "registration_code": "R1"}
    with transaction(factory) as s:
        # no StatusChangeEvent row: the id resolves to nothing, so no account (tests/web has one that does)
        letter, _ = dead_letters.record(
            s, body=json.dumps({"id": "evt_1", "type": "registration.status_changed", "version": 1,
                                "payload": payload}),
            reason="rejected", queue="connectors.status-events.v1", died_at=DIED, exchange="connectors.events",
            routing_key="registration.status_changed")
        assert (letter.message_id, letter.message_type, letter.account_id) == (
            "evt_1", "registration.status_changed", None)
        row = dead_letters.replay(s, letter, "cli")
        assert (row.exchange, row.routing_key, row.message_id) == ("events", "registration.status_changed", "evt_1")
