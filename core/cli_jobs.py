"""``connectors jobs``: submit a job, list jobs, show a run with its problems and log (the
commands wired into ``connectors.cli``'s parser)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from sqlalchemy import select

from .config import Settings
from .db import transaction
from .models import MAX_ID, Account, Event, Job, JobRun, RunRecord
from .services import Services


def row_id(text: str) -> int:
    """An argparse type for a row id: a clear usage error for one no row can have (not a number,
    not positive, past the databases' integer), instead of a database error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an id") from None
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"an id is between 1 and {MAX_ID}")
    return value


def services_from_env(args) -> Services:
    """The services of the settings the environment gives (every command but ``demo``)."""
    return Services.from_settings(Settings())


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

    services = services_from_env(args)
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
    services = services_from_env(args)
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
    services = services_from_env(args)
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


def _iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def add_parsers(sub) -> None:
    """The ``jobs`` command and its subcommands."""
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
    jshow.add_argument("run_id", type=row_id)
    jshow.add_argument("--json", action="store_true")
    jshow.set_defaults(func=cmd_jobs_show)
