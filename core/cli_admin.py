"""The administration commands of ``connectors``: plugins, config, tokens and users (wired
into ``connectors.cli``'s parser); jobs are in ``cli_jobs``."""
from __future__ import annotations

import json
import sys

from sqlalchemy import select

from .cli_jobs import row_id, services_from_env
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


def _token_owner(s, args):
    """The account (``--account``) or user (``--user``) whose tokens a ``tokens`` command is about."""
    from .tokens import TokenError, user_by_login

    if args.user:
        return user_by_login(s, args.user)
    account = s.scalar(select(Account).where(Account.account_code == args.account))
    if account is None:
        raise TokenError("account", f"no account {args.account!r}")
    return account


def cmd_tokens_create(args) -> int:
    from .tokens import TokenError, create_token, create_user_token, expiry

    services = services_from_env(args)
    try:
        with transaction(services.factory) as s:
            owner = _token_owner(s, args)
            expires_at = expiry(days=args.expires_in, on=args.expires_on)
            if args.user:  # a user's API token: acts as that user on /api/v1
                row, token = create_user_token(s, owner, args.name, expires_at)
            else:
                row, token = create_token(s, owner, args.name, expires_at=expires_at)
            until = f", expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
    except TokenError as exc:
        print(f"{exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    print(token)
    if args.user:
        print(f"API token {row.name!r} for {args.user}{until}: shown once, keep it secret (see /api/v1/docs)",
              file=sys.stderr)
    else:
        print(f"ingestion token {row.name!r} for {args.account}{until}: shown once, keep it secret "
              f"(POST /api/v1/status-changes with Authorization: Bearer <token>)", file=sys.stderr)
    return 0


def _when(moment) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else None


def cmd_tokens_list(args) -> int:
    from .tokens import TokenError, account_tokens, token_state, user_tokens

    services = services_from_env(args)
    try:
        with services.factory() as s:
            owner = _token_owner(s, args)
            rows = user_tokens(s, owner.id) if args.user else account_tokens(s, owner.id)
            data = [{"id": t.id, "name": t.name, "prefix": t.prefix, "created": _when(t.created_at),
                     "last_used": _when(t.last_used_at), "expires": _when(t.expires_at), "state": token_state(t)}
                    for t in rows]
    except TokenError as exc:
        print(f"{exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"{'ID':>5}  {'NAME':<24} {'PREFIX':<13} {'CREATED (UTC)':<17} {'LAST USED':<17} {'EXPIRES':<17} STATE")
    for t in data:
        print(f"{t['id']:>5}  {t['name'][:24]:<24} {t['prefix'] + '…':<13} {t['created']:<17} "
              f"{t['last_used'] or 'never':<17} {t['expires'] or 'never':<17} {t['state']}")
    return 0


def cmd_tokens_revoke(args) -> int:
    from .tokens import TokenError, revoke_account_token, revoke_user_token

    services = services_from_env(args)
    try:
        with transaction(services.factory) as s:
            owner = _token_owner(s, args)
            revoke = revoke_user_token if args.user else revoke_account_token
            done = revoke(s, owner.id, args.token_id)
    except TokenError as exc:
        print(f"{exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    if not done:
        print(f"no unrevoked token {args.token_id} of {args.user or args.account} (see connectors tokens list)",
              file=sys.stderr)
        return 2
    print(f"token {args.token_id} revoked: it no longer works")
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


def _password_from_stdin() -> str:
    """The new password: asked twice at a terminal, else the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        import getpass

        first, second = getpass.getpass("New password: "), getpass.getpass("Again: ")
        if first != second:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_users_set_password(args) -> int:
    """A new password for a user; every session of theirs ends (``login_sessions.change_password``)."""
    from .login_sessions import change_password

    services = services_from_env(args)
    try:
        password = _password_from_stdin()
        with transaction(services.factory) as s:
            user = s.scalar(select(User).where(User.login == args.login))
            if user is None:
                raise ValueError(f"no user {args.login!r}")
            ended = change_password(s, user, password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"password of {args.login} changed; {ended} session(s) ended")
    return 0


def cmd_users_deactivate(args) -> int:
    """Deactivate a user: their sessions end and their API tokens are revoked, at once."""
    from .login_sessions import deactivate_user

    services = services_from_env(args)
    with transaction(services.factory) as s:
        user = s.scalar(select(User).where(User.login == args.login))
        if user is None:
            print(f"error: no user {args.login!r}", file=sys.stderr)
            return 2
        ended = deactivate_user(s, user)
    print(f"{args.login} deactivated; {ended} session(s) ended, API tokens revoked")
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
    _add_token_parsers(sub)
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
    sp = usub.add_parser("set-password", help="a new password (from the terminal, or stdin's first line); "
                                              "every session of the user ends")
    sp.add_argument("login", help="the user's login (e-mail)")
    sp.set_defaults(func=cmd_users_set_password)
    de = usub.add_parser("deactivate", help="the user can no longer sign in; their sessions end and API tokens "
                                            "are revoked at once")
    de.add_argument("login", help="the user's login (e-mail)")
    de.set_defaults(func=cmd_users_deactivate)


def _token_owner_arguments(parser, what: str) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--account", help=f"the ingestion {what} of this account (POST /api/v1/status-changes)")
    who.add_argument("--user", help=f"the API {what} of the user with this login (e-mail): acting as them on /api/v1")


def _add_token_parsers(sub) -> None:
    """``tokens list|create|revoke``, each for an account's ingestion tokens or a user's API tokens."""
    tokens = sub.add_parser("tokens", help="API tokens: an account's ingestion tokens and users' API tokens")
    tsub = tokens.add_subparsers(dest="tokens_command", required=True)
    tl = tsub.add_parser("list", help="tokens with their prefix, creation, last use, expiry and state")
    _token_owner_arguments(tl, "tokens")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=cmd_tokens_list)
    tc = tsub.add_parser("create", help="a new token, printed once: an account's ingestion token or a user's API token")
    _token_owner_arguments(tc, "token")
    tc.add_argument("--name", required=True, help="where the token is used")
    until = tc.add_mutually_exclusive_group()
    until.add_argument("--expires-in", metavar="DAYS", help="the token stops working this many days from now")
    until.add_argument("--expires-on", metavar="YYYY-MM-DD", help="the token stops working at 00:00 UTC that day")
    tc.set_defaults(func=cmd_tokens_create)
    tr = tsub.add_parser("revoke", help="revoke a token at once (its ID from tokens list)")
    _token_owner_arguments(tr, "token")
    tr.add_argument("token_id", type=row_id, metavar="TOKEN_ID")
    tr.set_defaults(func=cmd_tokens_revoke)
