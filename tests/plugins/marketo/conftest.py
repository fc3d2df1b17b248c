"""Marketo fixtures: a fresh sandbox per test (served on loopback) and clients that never
really sleep, so retry and backoff tests stay fast."""
from __future__ import annotations

import random

import pytest

from connectors_marketo.client import MarketoClient
from connectors_marketo.sandbox import start_sandbox
from connectors_marketo.tokens import TOKEN_CACHE


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
def fresh_token_cache():
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


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
