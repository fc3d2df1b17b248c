"""``connectors dead-letters``: the operator's view of the messages the bus gave up on — every
one of them, whatever account (or none) its payload names (the admin shows administrators only
their own account's). Wired into ``connectors.cli``'s parser."""
from __future__ import annotations

import json
import sys

from . import dead_letters
from .cli_jobs import row_id, services_from_env
from .db import transaction
from .models import DEAD_LETTER_STATUSES, DeadLetter

HANDLED_BY = "cli"


def _summary(letter: DeadLetter) -> dict:
    return {"id": letter.id, "status": letter.status, "died_at": letter.died_at.isoformat(),
            "queue": letter.queue, "exchange": letter.exchange, "routing_key": letter.routing_key,
            "message_id": letter.message_id, "message_type": letter.message_type, "reason": letter.reason,
            "account_id": letter.account_id}


def _detail(letter: DeadLetter) -> dict:
    return {**_summary(letter), "recorded_at": letter.recorded_at.isoformat(),
            "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
            "dropped_at": letter.dropped_at.isoformat() if letter.dropped_at else None,
            "handled_by": letter.handled_by, "headers": letter.headers, "body_truncated": letter.body_truncated,
            "body": letter.body}


def cmd_list(args) -> int:
    status = None if args.status == "all" else args.status
    with services_from_env(args).factory() as s:
        page = dead_letters.list_dead_letters(s, status=status, queue=args.queue, page=args.page,
                                              per_page=args.limit)
        rows = [_summary(d) for d in page.items]
    if args.json:
        print(json.dumps({"total": page.total, "page": page.page, "pages": page.pages, "dead_letters": rows},
                         indent=2))
        return 0
    for r in rows:
        print(f"{r['id']:>6}  {r['status']:<8} {r['died_at'][:19]}  {r['queue'] or '?':<32} "
              f"{r['message_type'] or '?':<36} {r['reason']}")
    print(f"{page.total} {'dead letter' if page.total == 1 else 'dead letters'} ({args.status}); "
          f"page {page.page} of {page.pages}", file=sys.stderr)
    return 0


def cmd_show(args) -> int:
    with services_from_env(args).factory() as s:
        letter = dead_letters.get(s, args.id)
        if letter is None:
            print(f"no dead letter {args.id}", file=sys.stderr)
            return 2
        data, pretty = _detail(letter), dead_letters.pretty_body(letter)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for key, value in data.items():
        if key not in ("body", "headers"):
            print(f"{key + ':':<15} {value if value is not None else '-'}")
    print("headers:\n" + json.dumps(data["headers"], indent=2))
    print("body:\n" + pretty)
    return 0


def _act(args, action, done: str) -> int:
    try:
        with transaction(services_from_env(args).factory) as s:
            letter = dead_letters.get(s, args.id)
            if letter is None:
                print(f"no dead letter {args.id}", file=sys.stderr)
                return 2
            action(s, letter, HANDLED_BY)
    except dead_letters.DeadLetterError as exc:
        print(f"dead letter {args.id} cannot be {done}: {exc}", file=sys.stderr)
        return 2
    print(f"dead letter {args.id} {done}")
    return 0


def cmd_replay(args) -> int:
    return _act(args, dead_letters.replay, "replayed")


def cmd_drop(args) -> int:
    return _act(args, dead_letters.drop, "dropped")


def add_parsers(sub) -> None:
    p = sub.add_parser("dead-letters", help="messages the bus gave up on: list, show, replay, drop")
    dsub = p.add_subparsers(dest="dead_letters_command", required=True)
    lst = dsub.add_parser("list", help="newest first; open ones unless --status says otherwise")
    lst.add_argument("--status", choices=(*DEAD_LETTER_STATUSES, "all"), default="open")
    lst.add_argument("--queue", help="only those that died in this queue (its name as the list shows it)")
    lst.add_argument("--page", type=row_id, default=1)
    lst.add_argument("--limit", type=int, default=50, help="per page (at most 500)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)
    show = dsub.add_parser("show", help="one dead letter with its headers and body")
    show.add_argument("id", type=row_id)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    replay = dsub.add_parser("replay", help="send it again to its original exchange and routing key (via the outbox)")
    replay.add_argument("id", type=row_id)
    replay.set_defaults(func=cmd_replay)
    drop = dsub.add_parser("drop", help="mark it dropped: kept for the audit, hidden from the default list")
    drop.add_argument("id", type=row_id)
    drop.set_defaults(func=cmd_drop)
