"""The administration commands of ``connectors``: plugins, config, tokens and users (wired
into ``connectors.cli``'s parser); jobs are in ``cli_jobs``."""
from __future__ import annotations

import json
import sys

from sqlalchemy import select

from .cli_jobs import services_from_env
from .config import VARIABLES
from .db import transaction
from .models import Account, Event, User


def cmd_plugins(args) -> int:
    services = services_from_env(args)
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


def cmd_tokens_create(args) -> int:
    from .tokens import TokenError, create_token, create_token_for_login

    services = services_from_env(args)
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

    services = services_from_env(args)
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

    services = services_from_env(args)
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


def add_parsers(sub) -> None:
    """The ``plugins``, ``config``, ``tokens`` and ``users`` commands."""
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
