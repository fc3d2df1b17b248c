"""Eloqua fixtures: a fresh sandbox per test (login host + pods on loopback), clients that never
really sleep, and a clock tests move by hand, so retry, backoff and deadline tests stay fast."""
from __future__ import annotations

import random

import pytest

import connectors_eloqua.plugin as plugin
from connectors.testing import Harness
from connectors_eloqua.client import EloquaClient
from connectors_eloqua.discovery import IDENTITY_CACHE
from connectors_eloqua.jobs.common import RUN_CLIENT_OPTIONS
from connectors_eloqua.retry import PollPolicy
from connectors_eloqua.sandbox import start_sandbox
from connectors_eloqua.tokens import clear_shared_stores

from .support import FakeClock


@pytest.fixture(autouse=True)
def fresh_caches():
    """``/id`` answers and in-process token chains are shared per process: no test inherits them."""
    IDENTITY_CACHE.clear()
    clear_shared_stores()
    yield
    IDENTITY_CACHE.clear()
    clear_shared_stores()


@pytest.fixture
def sandbox():
    box = start_sandbox()
    yield box
    box.stop()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sleeps(clock):
    """Waits the client asked for (it never really waits; the fake clock moves instead)."""
    return clock.sleeps


@pytest.fixture
def make_client(sandbox, clock):
    def make(connection=None, **options) -> EloquaClient:
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock)
        options.setdefault("rng", random.Random(7))
        options.setdefault("poll", PollPolicy(first_delay=1.0, max_delay=30.0, deadline=3600.0))
        return EloquaClient.from_connection(connection or sandbox.connection, **options)
    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def run_waits(monkeypatch, clock):
    """Job runs back off and poll on the fake clock; the waits they asked for are returned."""
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "sleep", clock.sleep)
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "clock", clock)
    monkeypatch.setitem(RUN_CLIENT_OPTIONS, "rng", random.Random(7))
    return clock.sleeps


@pytest.fixture
def harness(tmp_path, sandbox, run_waits):
    """A temporary database (account TEST, event TEST26) with the Eloqua plugin configured
    against the sandbox and its default mappings: ``harness.run(key, params)`` runs a job."""
    h = Harness(tmp_path, plugins={"eloqua": plugin})
    h.configure("eloqua", sandbox.connection)
    yield h
    h.close()
