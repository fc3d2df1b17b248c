"""The audit trail of configuration changes: who, when, what (before and after).

Callers pass snapshots that already hold no secret value (``redacted`` turns secrets into
"set" / "not set"); ``record`` checks again and refuses a snapshot with a key it was told is
secret, so a slip shows up in tests instead of in the database.
"""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEntry, User

SET, NOT_SET, CHANGED = "set", "not set", "changed"


def secret_states(names: Iterable[str], values: dict[str, Any]) -> dict[str, str]:
    """``{name: "set" | "not set"}``: all that is ever said about a secret."""
    return {name: SET if values.get(name) not in (None, "") else NOT_SET for name in sorted(names)}


def record(session: Session, *, account_id: int, user: User | None, action: str, target_type: str,
           target_id: Any, target_label: str = "", before: Any = None, after: Any = None,
           secret_names: Iterable[str] = ()) -> AuditEntry:
    """Add one entry in the caller's transaction."""
    for snapshot in (before, after):
        _refuse_secrets(snapshot, frozenset(secret_names))
    entry = AuditEntry(account_id=account_id, user_id=user.id if user else None,
                       actor=user.login if user else "system", action=action, target_type=target_type,
                       target_id=str(target_id), target_label=target_label, before=before, after=after)
    session.add(entry)
    return entry


def _refuse_secrets(snapshot: Any, secret_names: frozenset[str]) -> None:
    """A secret may appear only as a state word, under the "secrets" key."""
    if not isinstance(snapshot, dict) or not secret_names:
        return
    plain = snapshot.get("connection") or {}
    leaked = secret_names & set(plain)
    states = snapshot.get("secrets") or {}
    bad_states = [k for k, v in states.items() if v not in (SET, NOT_SET, CHANGED)]
    if leaked or bad_states:
        raise ValueError(f"audit snapshot carries secret values: {sorted(leaked | set(bad_states))}")


def entries_for(session: Session, account_id: int, target_type: str, target_id: Any, limit: int = 50) -> list[AuditEntry]:
    """The newest entries about one target of one account."""
    return list(session.scalars(
        select(AuditEntry).where(AuditEntry.account_id == account_id, AuditEntry.target_type == target_type,
                                 AuditEntry.target_id == str(target_id))
        .order_by(AuditEntry.id.desc()).limit(limit)))


def changes(before: Any, after: Any) -> list[str]:
    """What changed, in lines a person reads: ``field: old → new`` for dicts, rows added and
    removed for lists of rows (each row given as a dict)."""
    if isinstance(before, dict) or isinstance(after, dict):
        return _dict_changes(before or {}, after or {}, "")
    if isinstance(before, list) or isinstance(after, list):
        return _list_changes(before or [], after or [], "")
    return [] if before == after else [f"{_show(before)} → {_show(after)}"]


def _dict_changes(before: dict, after: dict, prefix: str) -> list[str]:
    lines: list[str] = []
    for key in list(before) + [k for k in after if k not in before]:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        path = f"{prefix}{key}"
        if isinstance(old, dict) or isinstance(new, dict):
            lines += _dict_changes(old or {}, new or {}, path + ".")
        elif isinstance(old, list) or isinstance(new, list):
            lines += _list_changes(old or [], new or [], path + ": ")
        else:
            lines.append(f"{path}: {_show(old)} → {_show(new)}")
    return lines


def _list_changes(before: list, after: list, prefix: str) -> list[str]:
    old_rows, new_rows = [_row(r) for r in before], [_row(r) for r in after]
    removed = [r for r in old_rows if r not in new_rows]
    added = [r for r in new_rows if r not in old_rows]
    lines = [f"{prefix}removed {r}" for r in removed] + [f"{prefix}added {r}" for r in added]
    kept_old, kept_new = [r for r in old_rows if r in new_rows], [r for r in new_rows if r in old_rows]
    if kept_old != kept_new:
        lines.append(f"{prefix}reordered")
    return lines


def _row(row: Any) -> str:
    if isinstance(row, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in row.items())
    return _show(row)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
