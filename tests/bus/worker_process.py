"""One worker process for the kill test, with the slow test plugin; stops on SIGTERM.

    python worker_process.py DATABASE_URL BROKER_URL NAMESPACE --lease 2 --name worker-a
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import slowimport_plugin  # noqa: E402

from connectors.bus import Worker  # noqa: E402
from connectors.db import make_engine, session_factory  # noqa: E402
from connectors.plugins import PluginManager  # noqa: E402
from connectors.secrets import SecretBox  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("broker_url")
    parser.add_argument("namespace")
    parser.add_argument("--lease", type=int, default=2)
    parser.add_argument("--name", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(threadName)s %(name)s %(levelname)s %(message)s")

    registry = PluginManager()
    assert registry.add("testapp", slowimport_plugin), registry.load_errors
    engine = make_engine(args.database_url)
    worker = Worker(factory=session_factory(engine), registry=registry, box=SecretBox("connectors-testing"),
                    broker_url=args.broker_url, namespace=args.namespace, concurrency=1,
                    lease_seconds=args.lease, name=args.name, reap_interval=0.5, poll_interval=0.1,
                    grace_seconds=0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        worker.run(stop)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
