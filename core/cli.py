"""The ``connectors`` command: the one place that wires core, bus and web into processes.

Run from the repository root it uses the same embedded defaults as ``make demo`` (SQLite under
``instance/``), so a job submitted here is picked up by a running demo. The processes are here;
the administration commands are in ``cli_admin`` and the jobs commands in ``cli_jobs``.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from typing import Iterator, Sequence

from . import cli_admin, cli_dead_letters, cli_jobs
from .cli_jobs import services_from_env
from .config import Settings
from .db import transaction
from .secrets import secret_field_names
from .services import Services

log = logging.getLogger("connectors")


# -- processes ---------------------------------------------------------------------------------
def cmd_db_upgrade(args) -> int:
    from .migrations import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    print(f"database up to date: {_safe_url(settings.database_url)}")
    return 0


def cmd_web(args) -> int:
    from connectors.web import create_app

    services = services_from_env(args)
    app = create_app(services)
    host, port = args.host or services.settings.host, args.port or services.settings.port
    print(f"admin on http://{host}:{port}/  (for production: gunicorn 'connectors.web:create_app()')")
    if services.settings.secure_cookies is not False:
        print("session cookies are Secure: log in through https, or set CONNECTORS_SECURE_COOKIES=0 for plain http")
    app.run(host=host, port=port, threaded=True, use_reloader=False)
    return 0


def _stop_on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM: processes run on the main thread until it is set."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping


def cmd_worker(args) -> int:
    from connectors.bus import Worker

    services = services_from_env(args)
    worker = Worker(services, concurrency=args.concurrency or services.settings.worker_concurrency)
    print(f"worker {worker.name} consuming from {_safe_url(services.settings.broker_url)}", flush=True)
    worker.run(_stop_on_signal())  # returns after in-flight runs finish or their grace period ends
    return 0


def cmd_dispatcher(args) -> int:
    from connectors.bus import EventDispatcher

    services = services_from_env(args)
    dispatcher = EventDispatcher(services)
    print(f"event dispatcher {dispatcher.name} consuming status changes from "
          f"{_safe_url(services.settings.broker_url)}", flush=True)
    dispatcher.run(_stop_on_signal())
    return 0


def cmd_relay(args) -> int:
    """The relay, and beside it (a thread) the collector that records dead letters in the database."""
    from connectors.bus import Relay
    from connectors.bus.dead_letters import DeadLetterCollector

    services = services_from_env(args)
    relay = Relay(services)
    stopping = _stop_on_signal()
    collector = threading.Thread(target=DeadLetterCollector.from_services(services).run, args=(stopping,),
                                 name="dead-letter-collector", daemon=True)
    collector.start()
    print(f"relay publishing the outbox to {_safe_url(services.settings.broker_url)}", flush=True)
    relay.run_forever(stopping)
    relay.close()
    collector.join(10)
    return 0


def cmd_scheduler(args) -> int:
    from .jobs import scheduler

    services = services_from_env(args)
    print("scheduler ticking every second", flush=True)
    scheduler.run_forever(services.factory, stop_event=_stop_on_signal())
    return 0


@contextmanager
def demo_pieces(services: Services, sandbox_port: int = 0, announce=lambda line: None) -> Iterator[dict]:
    """What ``connectors demo`` runs besides the admin: each application's sandbox (on
    ``sandbox_port`` and the ports after it; 0: any free port), the demo account seeded against
    them, and the embedded bus (relay, worker, event dispatcher, scheduler as threads). Yields the
    sandboxes by application name; stops them all on the way out. The browser tests start the
    same pieces in their own process (``tests/e2e/embedded_demo.py``)."""
    from connectors.bus import Embedded

    from .seed import seed_demo

    with ExitStack() as stack:
        sandboxes = {}
        sandboxed = [(name, app) for name, app in sorted(services.registry.applications.items()) if app.sandbox]
        for offset, (name, app) in enumerate(sandboxed):
            sandboxes[name] = app.sandbox(port=sandbox_port + offset if sandbox_port else 0)
            stack.callback(sandboxes[name].stop)
            announce(f"{app.label} sandbox on {sandboxes[name].url}")
        with transaction(services.factory) as s:
            seed_demo(s, services.registry, services.box, {name: box.connection for name, box in sandboxes.items()})
        stack.callback(Embedded(services).start().stop)
        yield sandboxes


def cmd_demo(args) -> int:
    from connectors.web import create_app

    from .migrations import upgrade
    from .seed import DEMO_USERS

    settings = Settings()
    if args.port:
        settings.port = args.port
    if settings.secure_cookies is None:
        settings.secure_cookies = False  # the demo is served over plain http
    upgrade(settings.database_url)
    services = Services.from_settings(settings)
    for error in services.registry.load_errors:
        print(f"warning: plugin {error.plugin} not loaded: {error.error}", file=sys.stderr)
    with demo_pieces(services, settings.sandbox_port, announce=print):
        app = create_app(services)
        url = f"http://{settings.host}:{settings.port}/"
        print("\n  Connectors demo running at " + url)
        for login, _name, role, password in DEMO_USERS:
            print(f"    {role:<14} {login:<24} password: {password}")
        print("  Event SUMMIT26 -> Connectors -> New Event Job -> Import Marketo Leads as Registrations,")
        print("  static list 'SUMMIT26 Invitees'. Ctrl-C stops.\n", flush=True)
        app.run(host=settings.host, port=settings.port, threaded=True, use_reloader=False)
    return 0


def cmd_sandbox(args) -> int:
    services = services_from_env(args)
    app = services.registry.application(args.application)
    if app.sandbox is None:
        print(f"{app.label} ships no sandbox", file=sys.stderr)
        return 2
    options = {"port": args.port, "client_id": args.client_id, "client_secret": args.client_secret,
               "site": args.site, "user": args.user, "password": args.password,
               "seed": False if args.no_seed else None}
    box = app.sandbox(**{k: v for k, v in options.items() if v is not None})
    hidden = secret_field_names(app.connection_schema)
    shown = {k: ("***" if k in hidden else v) for k, v in box.connection.items()}
    print(f"{app.label} sandbox on {box.url}; connection: {json.dumps(shown)}", flush=True)
    _stop_on_signal().wait()
    box.stop()
    return 0


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# -- parser --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="connectors", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log debug lines")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="everything in one process on embedded defaults, seeded, with sandboxes")
    demo.add_argument("--port", type=int)
    demo.set_defaults(func=cmd_demo)
    web = sub.add_parser("web", help="the admin (development server; use gunicorn in production)")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    web.set_defaults(func=cmd_web)
    worker = sub.add_parser("worker", help="execute runs from the bus")
    worker.add_argument("--concurrency", type=int)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("scheduler", help="fire due schedules").set_defaults(func=cmd_scheduler)
    sub.add_parser("relay", help="publish the outbox to the bus").set_defaults(func=cmd_relay)
    sub.add_parser("dispatcher", help="deliver status-change events to event-triggered jobs").set_defaults(func=cmd_dispatcher)
    sandbox = sub.add_parser("sandbox", help="run an application's sandbox on its own")
    sandbox.add_argument("application")
    sandbox.add_argument("--port", type=int, default=0)
    sandbox.add_argument("--client-id")
    sandbox.add_argument("--client-secret")
    sandbox.add_argument("--site", help="Eloqua: the company (site) name")
    sandbox.add_argument("--user", help="Eloqua: the user name")
    sandbox.add_argument("--password", help="Eloqua: the user's password")
    sandbox.add_argument("--no-seed", action="store_true", help="start empty, without the demo data")
    sandbox.set_defaults(func=cmd_sandbox)

    db = sub.add_parser("db", help="database")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    cli_admin.add_parsers(sub)
    cli_dead_letters.add_parsers(sub)
    cli_jobs.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("connectors").setLevel(logging.INFO)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request; our banner has the URL
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
