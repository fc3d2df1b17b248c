"""The scheduler tick on SQLite and PostgreSQL (``db_url``, ``engine``, ``factory`` come from conftest)."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, update

from connectors.db import make_engine, session_factory, transaction
from connectors.jobs import scheduler
from connectors.jobs.scheduler import tick
from connectors.models import Account, Job, JobRun, Outbox, PluginConfig, Schedule
from connectors.schedules import fire_times, initial_next_run, load_schedule, to_columns

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def every(minutes: int, start=T0, end=T0 + timedelta(days=2), **extra):
    return load_schedule({"mode": "recurring", "frequency": "minutes", "interval": minutes,
                          "start_at": start.isoformat(), "end_at": end.isoformat(), **extra})


def seed(factory, spec, now=T0, *, enabled=True, state="scheduled", next_run_at="initial") -> int:
    """An account, its plugin configuration and one job with this schedule; returns the job id."""
    with transaction(factory) as session:
        account = Account(account_code=f"A{uuid.uuid4().hex[:10]}", name="Acme")
        session.add(account)
        session.flush()
        config = PluginConfig(account_id=account.id, application="marketo", name="Marketo")
        session.add(config)
        session.flush()
        job = Job(account_id=account.id, plugin_config_id=config.id, job_type="marketo.import_leads_as_profiles",
                  name="Import leads", enabled=enabled, state=state)
        when = initial_next_run(spec, now) if next_run_at == "initial" else next_run_at
        job.schedule = Schedule(**to_columns(spec), next_run_at=when)
        session.add(job)
        session.flush()
        return job.id


def runs(factory, job_id=None) -> list[JobRun]:
    with factory() as session:
        stmt = select(JobRun).order_by(JobRun.job_id, JobRun.scheduled_for)
        if job_id is not None:
            stmt = stmt.where(JobRun.job_id == job_id)
        return list(session.scalars(stmt))


def outbox_rows(factory) -> list[Outbox]:
    with factory() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def next_run_at(factory, job_id):
    with factory() as session:
        return session.scalar(select(Schedule.next_run_at).where(Schedule.job_id == job_id))


def finish_runs(factory) -> None:
    """What workers would do: the queued runs succeed, so the next slot is not an overlap."""
    with transaction(factory) as session:
        session.execute(update(JobRun).where(JobRun.status == "queued").values(status="succeeded"))


def test_one_fire_creates_one_run_and_one_outbox_row(factory):
    spec = load_schedule({"mode": "once", "run_at": "2026-05-04T09:00Z"})
    job_id = seed(factory, spec, now=T0 - timedelta(hours=1))
    assert tick(factory, now=T0 - timedelta(seconds=1)) == []
    created = tick(factory, now=T0)
    [run] = runs(factory)
    assert created == [run.id]
    assert (run.job_id, run.trigger, run.status, run.scheduled_for, run.attempt) == (job_id, "schedule", "queued", T0, 0)
    [message] = outbox_rows(factory)
    assert (message.message_id, message.type, message.payload) == (
        f"run_{run.id}_0", "run.requested", {"run_id": run.id, "attempt": 0})
    assert next_run_at(factory, job_id) is None
    assert tick(factory, now=T0 + timedelta(days=1)) == []
    assert len(runs(factory)) == 1 and len(outbox_rows(factory)) == 1


def test_once_now(factory):
    job_id = seed(factory, load_schedule({"mode": "once"}), now=T0)
    assert len(tick(factory, now=T0)) == 1
    assert [r.scheduled_for for r in runs(factory, job_id)] == [T0]


def test_recurring_fires_over_several_ticks_and_advances(factory):
    job_id = seed(factory, every(15))
    fired = []
    for minute in range(0, 50, 5):  # ticks every 5 minutes: slots at 0, 15, 30, 45
        fired += tick(factory, now=T0 + minute * MINUTE)
        finish_runs(factory)
    assert [r.scheduled_for for r in runs(factory, job_id)] == [T0 + m * MINUTE for m in (0, 15, 30, 45)]
    assert sorted(fired) == sorted(r.id for r in runs(factory))
    assert next_run_at(factory, job_id) == T0 + 60 * MINUTE
    assert len(outbox_rows(factory)) == 4


def test_daily_schedule_across_spring_forward(factory):
    spec = load_schedule({"mode": "recurring", "frequency": "daily", "time_of_day": "02:30",
                          "start_at": "2026-03-27T12:00", "end_at": "2026-03-31T00:00",
                          "timezone": "Europe/Paris"})
    job_id = seed(factory, spec, now=spec.start_at)
    now = spec.start_at
    while now < spec.end_at + timedelta(hours=2):
        tick(factory, now=now)
        finish_runs(factory)
        now += timedelta(minutes=30)
    assert [r.scheduled_for for r in runs(factory, job_id)] == fire_times(spec, spec.start_at) == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC)]
    assert next_run_at(factory, job_id) is None


def test_a_scheduler_that_was_down_fires_a_missed_slot_once(factory):
    job_id = seed(factory, every(15))
    late = T0 + timedelta(hours=2, minutes=5)
    assert len(tick(factory, now=late)) == 1
    assert [r.scheduled_for for r in runs(factory, job_id)] == [T0]  # the oldest missed slot, once
    assert next_run_at(factory, job_id) == T0 + timedelta(hours=2, minutes=15)
    finish_runs(factory)
    assert len(tick(factory, now=late + MINUTE)) == 0


def test_a_slot_falling_exactly_on_now_stays_due(factory):
    job_id = seed(factory, every(15))
    tick(factory, now=T0 + 30 * MINUTE)  # fires the missed T0 slot; T0+30 is "now", not missed
    assert next_run_at(factory, job_id) == T0 + 30 * MINUTE
    finish_runs(factory)
    tick(factory, now=T0 + 30 * MINUTE)
    assert [r.scheduled_for for r in runs(factory, job_id)] == [T0, T0 + 30 * MINUTE]


def test_overlapping_slot_is_skipped_but_the_schedule_advances(factory):
    job_id = seed(factory, every(15))
    tick(factory, now=T0)
    assert tick(factory, now=T0 + 15 * MINUTE) == []  # the T0 run is still queued
    assert len(runs(factory, job_id)) == 1 and len(outbox_rows(factory)) == 1
    assert next_run_at(factory, job_id) == T0 + 30 * MINUTE
    with transaction(factory) as session:
        session.execute(update(JobRun).values(status="running"))
    assert tick(factory, now=T0 + 30 * MINUTE) == []
    finish_runs(factory)
    with transaction(factory) as session:
        session.execute(update(JobRun).values(status="failed"))
    assert len(tick(factory, now=T0 + 45 * MINUTE)) == 1


@pytest.mark.parametrize("flags", [{"enabled": False}, {"state": "disabled"}])
def test_disabled_job_is_not_fired(factory, flags):
    job_id = seed(factory, every(15), **flags)
    assert tick(factory, now=T0 + timedelta(hours=1)) == []
    assert runs(factory) == [] and outbox_rows(factory) == []
    assert next_run_at(factory, job_id) == T0  # untouched: it fires once when re-enabled


def test_a_slot_fired_twice_yields_one_run(factory):
    """The UNIQUE(job_id, scheduled_for) backstop: a stale scheduler re-firing a slot does nothing."""
    job_id = seed(factory, every(15))
    [first] = tick(factory, now=T0)
    finish_runs(factory)
    with transaction(factory) as session:  # as if another scheduler had not seen the advance
        session.execute(update(Schedule).values(next_run_at=T0))
    assert tick(factory, now=T0) == []
    assert [r.id for r in runs(factory)] == [first] and len(outbox_rows(factory)) == 1
    assert next_run_at(factory, job_id) == T0 + 15 * MINUTE


def test_schedule_ends_after_max_runs(factory):
    job_id = seed(factory, every(15, max_runs=2))
    for minute in (0, 15, 30, 45):
        tick(factory, now=T0 + minute * MINUTE)
        finish_runs(factory)
    assert len(runs(factory, job_id)) == 2
    assert next_run_at(factory, job_id) is None


def test_job_state_becomes_scheduled_when_a_run_is_queued(factory):
    job_id = seed(factory, every(15), state="ended")
    tick(factory, now=T0)
    with factory() as session:
        assert session.get(Job, job_id).state == "scheduled"


def test_limit_and_order(factory):
    ids = [seed(factory, every(15, start=T0 + i * MINUTE)) for i in range(5)]
    assert len(tick(factory, now=T0 + 10 * MINUTE, limit=2)) == 2
    assert {r.job_id for r in runs(factory)} == set(ids[:2])  # the most overdue first
    assert len(tick(factory, now=T0 + 10 * MINUTE)) == 3


def test_an_unreadable_schedule_is_stopped_without_blocking_others(factory, caplog):
    bad, good = seed(factory, every(15)), seed(factory, every(15))
    with transaction(factory) as session:
        session.execute(update(Schedule).where(Schedule.job_id == bad).values(rrule="FREQ=SOMETIMES"))
    with caplog.at_level(logging.ERROR, logger="connectors.jobs.scheduler"):
        assert len(tick(factory, now=T0)) == 1
    assert [r.job_id for r in runs(factory)] == [good]
    assert next_run_at(factory, bad) is None
    assert "unreadable" in caplog.text


def test_run_forever_survives_a_failing_tick(factory, monkeypatch, caplog):
    seed(factory, load_schedule({"mode": "once"}), now=T0)
    real, calls = scheduler._tick, []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database restarted")
        return real(*args)

    monkeypatch.setattr(scheduler, "_tick", flaky)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(factory,),
                              kwargs={"interval": 0.01, "stop_event": stop})
    with caplog.at_level(logging.ERROR, logger="connectors.jobs.scheduler"):
        thread.start()
        for _ in range(500):
            if runs(factory):
                break
            threading.Event().wait(0.01)
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert len(runs(factory)) == 1
    assert "scheduler tick failed" in caplog.text


def _run_together(workers, target) -> list[BaseException]:
    """Start ``target(i, barrier)`` in ``workers`` threads at once; return what they raised."""
    barrier, errors = threading.Barrier(workers), []

    def guarded(i):
        try:
            target(i, barrier)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def test_two_schedulers_at_once_fire_each_slot_once(db_url, engine):  # engine: empty tables
    """Two schedulers (own engines, like two processes) hammer the same due schedules together."""
    engines = [make_engine(db_url) for _ in range(2)]
    factories = [session_factory(e) for e in engines]
    jobs, steps, ticks = 12, 4, 6
    job_ids = [seed(factories[0], every(1)) for _ in range(jobs)]
    created: list[list[int]] = [[], []]

    def scheduler_loop(i, barrier):
        for step in range(steps):
            barrier.wait(timeout=20)
            for _ in range(ticks):  # a small limit spreads the work over both schedulers
                created[i] += tick(factories[i], now=T0 + step * MINUTE, limit=5)
            barrier.wait(timeout=20)
            if i == 0:
                finish_runs(factories[0])

    try:
        assert _run_together(2, scheduler_loop) == []
        all_runs = runs(factories[0])
        for job_id in job_ids:
            assert [r.scheduled_for for r in all_runs if r.job_id == job_id] == [T0 + s * MINUTE for s in range(steps)]
        assert sorted(created[0] + created[1]) == sorted(r.id for r in all_runs)
        messages = outbox_rows(factories[0])
        assert sorted(m.payload["run_id"] for m in messages) == sorted(r.id for r in all_runs)
    finally:
        for e in engines:
            e.dispose()


def test_racing_inserts_of_one_slot_yield_one_run(db_url, engine):  # engine: empty tables
    """Without the row lock (a stale scheduler), the unique key alone keeps one run per slot."""
    engines = [make_engine(db_url) for _ in range(2)]
    factories = [session_factory(e) for e in engines]
    job_id = seed(factories[0], every(15))
    results: list[int | None] = [None, None]

    def insert(i, barrier):
        barrier.wait(timeout=20)
        with transaction(factories[i]) as session:
            results[i] = scheduler._insert_run(session, job_id, T0)

    try:
        assert _run_together(2, insert) == []
        assert sum(r is not None for r in results) == 1
        with factories[0]() as session:
            assert session.scalar(select(func.count()).select_from(JobRun)) == 1
    finally:
        for e in engines:
            e.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgres_claims_with_skip_locked(factory, engine):
    """A schedule another scheduler holds is skipped at once (no waiting), then fired when free."""
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listen)
    seed(factory, every(15))
    with factory() as holder, holder.begin():
        holder.execute(select(Schedule).with_for_update())
        started = time.monotonic()
        assert tick(factory, now=T0) == []
        assert time.monotonic() - started < 2
    assert len(tick(factory, now=T0)) == 1
    event.remove(engine, "before_cursor_execute", listen)
    assert any("FOR UPDATE OF schedules SKIP LOCKED" in s for s in statements)
    assert any("ON CONFLICT (job_id, scheduled_for) DO NOTHING RETURNING" in s for s in statements)
