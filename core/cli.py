"""The ``connectors`` command: the one place that wires core, bus and web into processes.

Run from the repository root it uses the same embedded defaults as ``make demo`` (SQLite under
``instance/``), so a job submitted here is picked up by a running demo.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from typing import Any, Sequence

from sqlalchemy import select

from .config import VARIABLES, Settings
from .db import transaction
from .models import Account, Event, Job, JobRun, RunRecord, User
from .secrets import secret_field_names
from .services import Services

log = logging.getLogger("connectors")


def _services(args) -> Services:
    return Services.from_settings(Settings())


# -- processes ---------------------------------------------------------------------------------
def cmd_db_upgrade(args) -> int:
    from .migrations import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    print(f"database up to date: {_safe_url(settings.database_url)}")
    return 0


def cmd_web(args) -> int:
    from connectors.web import create_app

    services = _services(args)
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

    services = _services(args)
    worker = Worker(services, concurrency=args.concurrency or services.settings.worker_concurrency)
    print(f"worker {worker.name} consuming from {_safe_url(services.settings.broker_url)}", flush=True)
    worker.run(_stop_on_signal())  # returns after in-flight runs finish or their grace period ends
    return 0


def cmd_dispatcher(args) -> int:
    from connectors.bus import EventDispatcher

    services = _services(args)
    dispatcher = EventDispatcher(services)
    print(f"event dispatcher {dispatcher.name} consuming status changes from "
          f"{_safe_url(services.settings.broker_url)}", flush=True)
    dispatcher.run(_stop_on_signal())
    return 0


def cmd_relay(args) -> int:
    from connectors.bus import Relay

    services = _services(args)
    relay = Relay(services)
    print(f"relay publishing the outbox to {_safe_url(services.settings.broker_url)}", flush=True)
    relay.run_forever(_stop_on_signal())
    relay.close()
    return 0


def cmd_scheduler(args) -> int:
    from .jobs import scheduler

    services = _services(args)
    print("scheduler ticking every second", flush=True)
    scheduler.run_forever(services.factory, stop_event=_stop_on_signal())
    return 0


def cmd_demo(args) -> int:
    from connectors.bus import Embedded
    from connectors.web import create_app

    from .migrations import upgrade
    from .seed import DEMO_USERS, seed_demo

    settings = Settings()
    if args.port:
        settings.port = args.port
    if settings.secure_cookies is None:
        settings.secure_cookies = False  # the demo is served over plain http
    upgrade(settings.database_url)
    services = Services.from_settings(settings)
    for error in services.registry.load_errors:
        print(f"warning: plugin {error.plugin} not loaded: {error.error}", file=sys.stderr)
    sandboxes, connections = [], {}
    sandboxed = [(name, app) for name, app in sorted(services.registry.applications.items()) if app.sandbox]
    for offset, (name, app) in enumerate(sandboxed):
        box = app.sandbox(port=settings.sandbox_port + offset)
        sandboxes.append(box)
        connections[name] = box.connection
        print(f"{app.label} sandbox on {box.url}")
    with transaction(services.factory) as s:
        seed_demo(s, services.registry, services.box, connections)
    embedded = Embedded(services)
    embedded.start()
    app = create_app(services)
    url = f"http://{settings.host}:{settings.port}/"
    print("\n  Connectors demo running at " + url)
    for login, _name, role, password in DEMO_USERS:
        print(f"    {role:<14} {login:<24} password: {password}")
    print("  Event SUMMIT26 -> Connectors -> New Event Job -> Import Marketo Leads as Registrations,")
    print("  static list 'SUMMIT26 Invitees'. Ctrl-C stops.\n", flush=True)
    try:
        app.run(host=settings.host, port=settings.port, threaded=True, use_reloader=False)
    finally:
        embedded.stop()
        for box in sandboxes:
            box.stop()
    return 0


def cmd_sandbox(args) -> int:
    services = _services(args)
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


# -- information -------------------------------------------------------------------------------
def cmd_plugins(args) -> int:
    services = _services(args)
    reg = services.registry
    data = {
        "plugins": [{"name": p.name, "distribution": p.distribution, "version": p.version,
                     "applications": list(p.applications), "job_types": list(p.job_types)} for p in reg.plugins()],
        "job_types": [{"key": jt.key, "label": jt.label, "application": jt.application, "scope": jt.scope}
                      for jt in sorted(reg.job_types.values(), key=lambda j: j.key)],
        "load_errors": [{"plugin": e.plugin, "error": e.error} for e in reg.load_errors],
        "disabled": sorted(reg.disabled),
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for p in data["plugins"]:
        print(f"{p['name']} ({p['distribution'] or '?'} {p['version'] or ''})".rstrip())
        for key in p["job_types"]:
            jt = reg.job_type(key)
            print(f"    {key:<48} {jt.scope:<8} {jt.label}")
        if not p["job_types"]:
            print("    (no job types)")
    for e in data["load_errors"]:
        print(f"LOAD ERROR {e['plugin']}: {e['error']}")
    for name in data["disabled"]:
        print(f"disabled: {name}")
    return 0


def _find_event(s, event_code: str | None, account_code: str | None) -> tuple[Account, Event | None]:
    q = select(Account)
    if account_code:
        account = s.scalar(q.where(Account.account_code == account_code))
        if account is None:
            raise SystemExit(f"no account {account_code!r}")
    else:
        account = None
    if event_code is None:
        if account is None:
            raise SystemExit("an account-level job needs --account CODE")
        return account, None
    eq = select(Event).where(Event.event_code == event_code)
    if account is not None:
        eq = eq.where(Event.account_id == account.id)
    events = list(s.scalars(eq))
    if not events:
        raise SystemExit(f"no event {event_code!r}")
    if len(events) > 1:
        raise SystemExit(f"event code {event_code!r} exists in several accounts: add --account CODE")
    return s.get(Account, events[0].account_id), events[0]


def cmd_jobs_submit(args) -> int:
    from .jobs.submit import SubmitError, submit

    services = _services(args)
    try:
        params = json.loads(args.params or "{}")
        schedule = json.loads(args.schedule) if args.schedule else None
    except json.JSONDecodeError as exc:
        print(f"--params/--schedule must be JSON: {exc}", file=sys.stderr)
        return 2
    try:
        with transaction(services.factory) as s:
            account, event = _find_event(s, args.event, args.account)
            job = submit(s, services.registry, account=account, event=event, job_type_key=args.type, params=params,
                         schedule=schedule, name=args.name, via="cli")
            s.flush()
            job_id, run_id = job.id, (job.runs[0].id if job.runs else None)
    except SubmitError as exc:
        if args.json:
            print(json.dumps({"errors": exc.messages}))
        else:
            for field, reasons in exc.messages.items():
                print(f"error: {field}: {' '.join(reasons)}", file=sys.stderr)
        return 2
    if not args.wait or run_id is None:
        out = {"job_id": job_id, "run_id": run_id}
        print(json.dumps(out) if args.json else f"job {job_id} submitted" + (f", run {run_id} queued" if run_id else ""))
        return 0
    run = _wait(services, run_id, quiet=args.json)
    if args.json:
        print(json.dumps({"job_id": job_id, **run}))
    return 0 if run["status"] in ("succeeded", "partially_failed") else 1


def _run_view(s, run: JobRun) -> dict[str, Any]:
    return {"run_id": run.id, "job_id": run.job_id, "status": run.status, "attempt": run.attempt,
            "counters": dict(run.counters or {}), "progress": [run.progress_done, run.progress_total],
            "started_at": _iso(run.started_at), "ended_at": _iso(run.ended_at), "error": run.error}


def _wait(services: Services, run_id: int, quiet: bool) -> dict[str, Any]:
    last = None
    while True:
        with services.factory() as s:
            view = _run_view(s, s.get(JobRun, run_id))
        line = f"run {run_id}: {view['status']} {view['progress'][0]}/{view['progress'][1] or '?'} {view['counters']}"
        if line != last and not quiet:
            print(line, flush=True)
            last = line
        if view["status"] in ("succeeded", "partially_failed", "failed", "cancelled"):
            return view
        time.sleep(0.5)


def cmd_jobs_list(args) -> int:
    services = _services(args)
    with services.factory() as s:
        q = select(Job).order_by(Job.id.desc()).limit(args.limit)
        if args.event:
            q = q.join(Event, Event.id == Job.event_id).where(Event.event_code == args.event)
        rows = []
        for job in s.scalars(q):
            last = job.runs[0] if job.runs else None
            rows.append({"job_id": job.id, "name": job.name, "job_type": job.job_type, "state": job.state,
                         "event": job.event.event_code if job.event else None,
                         "last_run": _run_view(s, last) if last else None,
                         "next_run_at": _iso(job.schedule.next_run_at) if job.schedule else None})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            lr = r["last_run"]
            print(f"{r['job_id']:>5}  {r['state']:<9} {r['event'] or 'account':<10} {r['job_type']:<44} "
                  f"{(lr['status'] + ' run ' + str(lr['run_id'])) if lr else '-'}")
    return 0


def cmd_jobs_show(args) -> int:
    services = _services(args)
    with services.factory() as s:
        run = s.get(JobRun, args.run_id)
        if run is None:
            print(f"no run {args.run_id}", file=sys.stderr)
            return 1
        view = _run_view(s, run)
        view["problems"] = [{"key": r.record_key, "outcome": r.outcome, "code": r.code, "message": r.message}
                            for r in s.scalars(select(RunRecord).where(RunRecord.run_id == run.id).order_by(RunRecord.id))]
        view["log"] = run.log or []
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    print(f"run {view['run_id']} of job {view['job_id']}: {view['status']} (attempt {view['attempt'] + 1})")
    print(f"  started {view['started_at']}  ended {view['ended_at']}")
    print(f"  progress {view['progress'][0]}/{view['progress'][1] or '?'}  counts {view['counters']}")
    if view["error"]:
        print(f"  error: {view['error']}")
    for p in view["problems"][:50]:
        print(f"  {p['outcome']:<8} {p['key']:<32} {p['code'] or '':<20} {p['message'] or ''}")
    if len(view["problems"]) > 50:
        print(f"  … {len(view['problems']) - 50} more problems (--json for all)")
    return 0


def cmd_tokens_create(args) -> int:
    from .tokens import TokenError, create_token, create_token_for_login

    services = _services(args)
    if args.user:  # a user's API token: acts as that user on /api/v1
        try:
            with transaction(services.factory) as s:
                token = create_token_for_login(s, args.user, args.name)[1]
        except TokenError as exc:
            print(f"{exc.field}: {exc.reason}", file=sys.stderr)
            return 2
        print(token)
        print(f"API token {args.name!r} for {args.user}: shown once, keep it secret (see /api/v1/docs)", file=sys.stderr)
        return 0
    with transaction(services.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == args.account))
        if account is None:
            print(f"no account {args.account!r}", file=sys.stderr)
            return 2
        _, token = create_token(s, account, args.name)
    print(token)
    print(f"ingestion token {args.name!r} for {args.account}: shown once, keep it secret "
          f"(POST /api/v1/status-changes with Authorization: Bearer <token>)", file=sys.stderr)
    return 0


def _user_and_event(s, login: str, event_code: str) -> tuple[User, Event]:
    user = s.scalar(select(User).where(User.login == login))
    if user is None:
        raise SystemExit(f"no user {login!r}")
    event = s.scalar(select(Event).where(Event.account_id == user.account_id, Event.event_code == event_code))
    if event is None:
        raise SystemExit(f"no event {event_code!r} in the account of {login}")
    return user, event


def cmd_users_assign(args) -> int:
    from .event_access import AssignmentError, assign_event, unassign_event

    services = _services(args)
    try:
        with transaction(services.factory) as s:
            user, event = _user_and_event(s, args.login, args.event)
            changed = (assign_event if args.assign else unassign_event)(s, user, event)
    except AssignmentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "assigned to" if args.assign else "unassigned from"
    print(f"{args.login} {verb} {args.event}" + ("" if changed else " already"))
    return 0


def cmd_users_list(args) -> int:
    from .event_access import assigned_event_codes

    services = _services(args)
    with services.factory() as s:
        q = select(User, Account).join(Account, Account.id == User.account_id).order_by(Account.account_code, User.login)
        if args.account:
            q = q.where(Account.account_code == args.account)
        for user, account in s.execute(q):
            events = "all events" if user.is_administrator else (", ".join(assigned_event_codes(s, user)) or "no events")
            print(f"{account.account_code:<10} {user.login:<32} {user.role:<14} {events}"
                  + ("" if user.is_active else "  (inactive)"))
    return 0


def cmd_config(args) -> int:
    for name, (default, what) in VARIABLES.items():
        print(f"{name:<32} {default:<40} {what}")
    return 0


def _iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


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

    plugins = sub.add_parser("plugins", help="list plugins, job types and load errors")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=cmd_plugins)
    sub.add_parser("config", help="list configuration variables and defaults").set_defaults(func=cmd_config)
    tokens = sub.add_parser("tokens", help="API tokens")
    tsub = tokens.add_subparsers(dest="tokens_command", required=True)
    tc = tsub.add_parser("create", help="a new token, printed once: an account's ingestion token or a user's API token")
    who = tc.add_mutually_exclusive_group(required=True)
    who.add_argument("--account", help="ingestion token of this account (POST /api/v1/status-changes)")
    who.add_argument("--user", help="API token of the user with this login (e-mail): acts as them on /api/v1")
    tc.add_argument("--name", required=True)
    tc.set_defaults(func=cmd_tokens_create)

    users = sub.add_parser("users", help="users and the events event builders are assigned to")
    usub = users.add_subparsers(dest="users_command", required=True)
    ul = usub.add_parser("list", help="users with their role and events")
    ul.add_argument("--account", help="account code")
    ul.set_defaults(func=cmd_users_list)
    for name, assign, what in (("assign-event", True, "let an event builder see an event of their account"),
                               ("unassign-event", False, "take an event away from an event builder")):
        ua = usub.add_parser(name, help=what)
        ua.add_argument("login", help="the user's login (e-mail)")
        ua.add_argument("event", help="event code")
        ua.set_defaults(func=cmd_users_assign, assign=assign)

    jobs = sub.add_parser("jobs", help="submit and inspect jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    js = jsub.add_parser("submit", help="submit a job (runs now unless --schedule says otherwise)")
    js.add_argument("--event", help="event code (omit with --account for account-level jobs)")
    js.add_argument("--account", help="account code (needed when the event code is ambiguous)")
    js.add_argument("--type", required=True, help="job type key, see `connectors plugins`")
    js.add_argument("--params", default="{}", help="parameters as JSON")
    js.add_argument("--schedule", help='schedule as JSON, e.g. {"mode":"recurring",...}')
    js.add_argument("--name")
    js.add_argument("--wait", action="store_true", help="wait for the run to end, printing progress")
    js.add_argument("--json", action="store_true")
    js.set_defaults(func=cmd_jobs_submit)
    jl = jsub.add_parser("list", help="jobs, newest first")
    jl.add_argument("--event")
    jl.add_argument("--limit", type=int, default=50)
    jl.add_argument("--json", action="store_true")
    jl.set_defaults(func=cmd_jobs_list)
    jshow = jsub.add_parser("show", help="one run with its counts, problems and log")
    jshow.add_argument("run_id", type=int)
    jshow.add_argument("--json", action="store_true")
    jshow.set_defaults(func=cmd_jobs_show)
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
