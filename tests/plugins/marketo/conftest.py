"""Marketo fixtures: a fresh sandbox per test (served on loopback) and clients that never
really sleep, so retry and backoff tests stay fast."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

import connectors_marketo.plugin as plugin
from connectors.db import transaction
from connectors.demo_agenda import seed_programme
from connectors.models import Account, Event
from connectors.testing import ACCOUNT_CODE, EVENT_CODE, Harness
from connectors_marketo.client import MarketoClient
from connectors_marketo.jobs.common import RUN_CLIENT_OPTIONS
from connectors_marketo.ratelimit import RATE_LIMITERS
from connectors_marketo.sandbox import start_sandbox
from connectors_marketo.tokens import TOKEN_CACHE

from .outbound_support import ATTENDEES


class FakeClock:
    """A clock tests move by hand; ``sleep`` records the wait and moves the clock by it."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch):
    """Job runs back off without waiting; the waits they asked for are returned."""
    waits: list[float] = []
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "sleep", waits.append)
    return waits


@pytest.fixture(autouse=True)
def fresh_token_cache():
    """Tokens and rate limiters are shared per process: no test inherits another's."""
    TOKEN_CACHE.clear()
    RATE_LIMITERS.clear()
    yield
    TOKEN_CACHE.clear()
    RATE_LIMITERS.clear()


@pytest.fixture
def sandbox():
    sb = start_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def sleeps():
    """Waits the client asked for (it never really waits)."""
    return []


@pytest.fixture
def make_client(sandbox, sleeps):
    def make(**options) -> MarketoClient:
        options.setdefault("sleep", sleeps.append)
        options.setdefault("rng", random.Random(7))
        return MarketoClient.from_connection(sandbox.connection, **options)
    return make


@pytest.fixture
def client(make_client):
    return make_client()



@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def programme_harness(tmp_path, sandbox):
    """The demo programme's sessions, tags and ATTENDEES registrations in the test event."""
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    with transaction(h.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        seed_programme(s, account, s.scalar(select(Event).where(Event.event_code == EVENT_CODE)), attendees=ATTENDEES)
    yield h
    h.close()
