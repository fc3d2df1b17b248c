"""Which events a user may see (``connectors.event_access``), on SQLite and PostgreSQL; the
assignments made through the CLI; migration 0008 keeping existing event builders' access."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from connectors.db import make_engine, session_factory, transaction
from connectors.event_access import (
    AssignmentError, assign_event, assigned_event_codes, unassign_event, visible_events, visible_jobs_condition,
)
from connectors.migrations import upgrade
from connectors.models import EventAssignment, Job, PluginConfig, User
from connectors.seed import get_or_create_account, get_or_create_event, get_or_create_user


@pytest.fixture
def accounts(factory):
    """ACME with events A, B, C, an administrator and two builders (one on A, one on B and C);
    OTHER with event X and its own builder."""
    with factory() as s, s.begin():
        acme, other = get_or_create_account(s, "ACME", "Acme"), get_or_create_account(s, "OTHER", "Other")
        events = {code: get_or_create_event(s, acme, code, f"Event {code}") for code in "ABC"}
        events["X"] = get_or_create_event(s, other, "X", "Event X")
        users = {"admin": get_or_create_user(s, acme, "admin@acme", "Admin", "administrator", "pw"),
                 "ann": get_or_create_user(s, acme, "ann@acme", "Ann", "event_builder", "pw"),
                 "bob": get_or_create_user(s, acme, "bob@acme", "Bob", "event_builder", "pw"),
                 "olga": get_or_create_user(s, other, "olga@other", "Olga", "event_builder", "pw")}
        assign_event(s, users["ann"], events["A"])
        assign_event(s, users["bob"], events["B"])
        assign_event(s, users["bob"], events["C"])
        assign_event(s, users["olga"], events["X"])
        config = PluginConfig(account_id=acme.id, application="t", name="T")
        s.add(config)
        s.flush()
        s.add_all([Job(account_id=acme.id, event_id=events[code].id if code else None, plugin_config_id=config.id,
                       job_type="t.x", name=code or "-", params={}, state="ended") for code in ("A", "B", None)])
    return {name: user.id for name, user in users.items()}


def _codes(factory, user_id) -> list[str]:
    with factory() as s:
        return [e.event_code for e in visible_events(s, s.get(User, user_id))]


def test_administrators_see_all_their_accounts_events_builders_only_theirs(factory, accounts):
    assert _codes(factory, accounts["admin"]) == ["A", "B", "C"]
    assert _codes(factory, accounts["ann"]) == ["A"]
    assert _codes(factory, accounts["bob"]) == ["B", "C"]
    assert _codes(factory, accounts["olga"]) == ["X"]


def test_jobs_follow_their_event_and_account_level_jobs_stay_in_the_query(factory, accounts):
    with factory() as s:
        def names(who):
            return sorted(s.scalars(select(Job.name).where(visible_jobs_condition(s.get(User, accounts[who])))))
        assert names("admin") == ["-", "A", "B"]
        assert names("ann") == ["-", "A"]  # the account-level job is found: the page answers 403, not 404
        assert names("olga") == []


def test_assigning_twice_is_harmless_and_unassigning_takes_the_event_away(factory, accounts):
    with factory() as s, s.begin():
        ann = s.get(User, accounts["ann"])
        event_b = next(e for e in visible_events(s, s.get(User, accounts["admin"])) if e.event_code == "B")
        assert assign_event(s, ann, event_b) is True
        assert assign_event(s, ann, event_b) is False
        assert assigned_event_codes(s, ann) == ["A", "B"]
    assert _codes(factory, accounts["ann"]) == ["A", "B"]
    with factory() as s, s.begin():
        ann = s.get(User, accounts["ann"])
        event_a = visible_events(s, ann)[0]
        assert unassign_event(s, ann, event_a) is True
        assert unassign_event(s, ann, event_a) is False
    assert _codes(factory, accounts["ann"]) == ["B"]


def test_refused_assignments_say_why(factory, accounts):
    with factory() as s:
        event_x = visible_events(s, s.get(User, accounts["olga"]))[0]
        event_a = visible_events(s, s.get(User, accounts["ann"]))[0]
        with pytest.raises(AssignmentError, match="ann@acme belongs to another account than event X"):
            assign_event(s, s.get(User, accounts["ann"]), event_x)
        with pytest.raises(AssignmentError, match="administrator and sees every event"):
            assign_event(s, s.get(User, accounts["admin"]), event_a)


def test_deleting_a_user_deletes_their_assignments(factory, accounts):
    with factory() as s, s.begin():
        s.delete(s.get(User, accounts["bob"]))
    with factory() as s:
        assert s.scalar(select(EventAssignment).where(EventAssignment.user_id == accounts["bob"])) is None


def test_migration_0008_assigns_existing_builders_to_their_accounts_events(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, account_code, name, created_at) VALUES "
                          "(1, 'A', 'A', '2026-01-01 00:00:00'), (2, 'B', 'B', '2026-01-01 00:00:00')"))
        for event_id, account_id in ((10, 1), (11, 1), (20, 2)):
            conn.execute(text("INSERT INTO events (id, account_id, event_code, name, status, timezone, "
                              "enabled_applications, date_modified) VALUES (:id, :a, :code, 'E', 'active', 'UTC', "
                              "'[]', '2026-01-01 00:00:00')"), {"id": event_id, "a": account_id, "code": f"E{event_id}"})
        for user_id, account_id, role in ((1, 1, "administrator"), (2, 1, "event_builder"), (3, 2, "event_builder")):
            conn.execute(text("INSERT INTO users (id, account_id, login, name, role, password_hash, is_active, "
                              "created_at) VALUES (:id, :a, :login, 'U', :role, 'x', 1, '2026-01-01 00:00:00')"),
                         {"id": user_id, "a": account_id, "login": f"u{user_id}", "role": role})
    upgrade(url, "0008")
    with engine.connect() as conn:
        rows = sorted(conn.execute(text("SELECT user_id, event_id FROM event_assignments")).all())
    engine.dispose()
    assert rows == [(2, 10), (2, 11), (3, 20)]  # builders keep what they saw; administrators need no rows


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "connectors", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_assigns_lists_and_unassigns_events(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        acme = get_or_create_account(s, "ACME", "Acme")
        get_or_create_event(s, acme, "A", "Event A")
        get_or_create_event(s, get_or_create_account(s, "OTHER", "Other"), "X", "Event X")
        get_or_create_user(s, acme, "ann@acme", "Ann", "event_builder", "pw")
        get_or_create_user(s, acme, "admin@acme", "Admin", "administrator", "pw")
    engine.dispose()
    env = {**os.environ, "CONNECTORS_DATABASE_URL": url, "CONNECTORS_INSTANCE_DIR": str(tmp_path)}

    done = _cli(env, "users", "assign-event", "ann@acme", "A")
    assert done.returncode == 0 and "ann@acme assigned to A" in done.stdout, done.stderr
    assert "assigned to A already" in _cli(env, "users", "assign-event", "ann@acme", "A").stdout
    listed = _cli(env, "users", "list", "--account", "ACME").stdout
    assert any(line.split()[1:] == ["admin@acme", "administrator", "all", "events"] for line in listed.splitlines())
    assert any(line.split()[1:] == ["ann@acme", "event_builder", "A"] for line in listed.splitlines())

    refused = _cli(env, "users", "assign-event", "admin@acme", "A")
    assert refused.returncode == 2 and "administrator and sees every event" in refused.stderr
    missing = _cli(env, "users", "assign-event", "ann@acme", "X")
    assert missing.returncode == 1 and "no event 'X' in the account of ann@acme" in missing.stderr
    assert "no user 'nobody@acme'" in _cli(env, "users", "assign-event", "nobody@acme", "A").stderr

    gone = _cli(env, "users", "unassign-event", "ann@acme", "A")
    assert gone.returncode == 0 and "ann@acme unassigned from A" in gone.stdout
    assert "ann@acme" in _cli(env, "users", "list").stdout and "no events" in _cli(env, "users", "list").stdout
