"""Helpers of the bus tests: a harness with the test plugin, waiting, and background threads."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

from connectors.bus import Relay, Worker
from connectors.testing import Harness

from . import slowimport_plugin


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    """Poll until ``predicate()`` is truthy and return its value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def make_harness(tmp_path, database_url: str | None = None) -> Harness:
    harness = Harness(tmp_path, plugins={"testapp": slowimport_plugin}, database_url=database_url)
    harness.configure(slowimport_plugin.APPLICATION, {})
    return harness


@contextlib.contextmanager
def in_thread(target: Callable[[threading.Event], None], name: str) -> Iterator[threading.Event]:
    """Run ``target(stop_event)`` in a thread for the block's duration."""
    stop = threading.Event()
    thread = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), f"{name} did not stop"


def worker_for(harness: Harness, broker_url: str, namespace: str, **kwargs) -> Worker:
    options = {"concurrency": 2, "lease_seconds": 5, "reap_interval": 0.5, "poll_interval": 0.1,
               "grace_seconds": 5, **kwargs}
    return Worker(factory=harness.factory, registry=harness.registry, box=harness.box, broker_url=broker_url,
                  namespace=namespace, **options)


@contextlib.contextmanager
def bus_running(harness: Harness, broker_url: str, namespace: str, **worker_options) -> Iterator[Worker]:
    """A relay and a worker in background threads, both stopped at the end of the block."""
    relay = Relay(harness.factory, broker_url, namespace)
    worker = worker_for(harness, broker_url, namespace, **worker_options)
    with in_thread(lambda stop: relay.run_forever(stop, interval=0.05), "relay"), \
         in_thread(worker.run, "worker"):
        yield worker


def activity_harness(tmp_path, count: int, database_url: str | None = None) -> tuple[Harness, list[dict]]:
    """A harness with the core tests' sample plugin, an "Attended" activity job, and ``count``
    registrations imported as New (which the job filters out); the sample's sent list emptied.
    Import the people again with ``status_label="Attended", overwrite_status=True`` to make one
    status change each."""
    from ..core import sample_plugin

    sample_plugin.SENT.clear()
    sample_plugin.BEHAVIOUR.clear()
    sample_plugin.BEHAVIOUR["next"] = None
    harness = Harness(tmp_path, plugins={"sample": sample_plugin}, database_url=database_url)
    harness.configure("sample", {"url": "http://sample", "token": "t"})
    harness.submit("sample.activity", {"activity": "Attended", "status_filter": ["Attended"]})
    people = [{"id": str(i), "email": f"p{i}@example.com", "first": "P"} for i in range(count)]
    harness.run("sample.import_people", {"people": people, "page_size": count})
    return harness, people
