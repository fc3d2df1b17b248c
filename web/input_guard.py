"""Text the databases cannot store, and JSON too deep to handle, refused at the door.

PostgreSQL refuses a NUL character in any text (and ``\\u0000`` in JSON); a lone surrogate cannot
even be encoded to send; a body nested thousands deep exhausts Python's recursion. Each would
fail deep inside a query or a ``json.dumps`` as a 500, so every request is checked first: a NUL in
an address is a 404 (no code, key or name holds one), in a query or a form a 400 naming the
parameter; a JSON body is checked by ``problems_in`` when a view loads it.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider

from connectors.storable import unstorable

#: deeper than any request of the API or the plugins' parameters needs
MAX_DEPTH = 32
#: at most this many problems are named (a hostile body could hold thousands)
MAX_NAMED = 20


class SafeJSONProvider(DefaultJSONProvider):
    """``json.loads`` raises ``RecursionError`` on a deep enough body; as a ``ValueError`` it is
    what Flask expects of unreadable JSON (``get_json(silent=True)`` gives None, or a 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"JSON nested too deeply (more than {MAX_DEPTH} levels are refused)") from None


def problems_in(body: Any) -> dict[str, list[str]]:
    """Each string (key or value) of a JSON document the databases cannot store, by its dotted
    path, and any part nested past ``MAX_DEPTH``. Walked with a stack, not recursion."""
    found: dict[str, list[str]] = {}
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack and len(found) < MAX_NAMED:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            found.setdefault(path or "body", []).append(f"nested too deeply (at most {MAX_DEPTH} levels)")
            continue
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else None
        if items is None:
            reason = unstorable(value) if isinstance(value, str) else None
            if reason:
                found.setdefault(path or "body", []).append(reason)
            continue
        for key, item in items:
            where = f"{path}.{key}" if path else str(key)
            reason = unstorable(key) if isinstance(key, str) else None
            if reason:
                found.setdefault(where, []).append(f"its name {reason}")
            stack.append((where, item, depth + 1))
    return found


def query_problems(args: Any) -> dict[str, list[str]]:
    """Each query or form parameter (a ``MultiDict``) whose name or value cannot be stored."""
    found: dict[str, list[str]] = {}
    for name, value in args.items(multi=True):
        reason = unstorable(name) or unstorable(value)
        if reason:
            found.setdefault(name, []).append(reason)
    return found


def _refuse_unstorable_text() -> None:
    """Addresses everywhere; queries and forms on the admin (the API checks its own in
    ``load_query`` and ``load_body``, naming the field in its format)."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and unstorable(value):
            abort(404)  # no event code, application or subject code holds one
    if request.blueprint == "api":
        return
    for source in (request.args, request.form):
        for name, reasons in query_problems(source).items():
            abort(400, description=f"The field {name!r} {reasons[0]}.")


def init_app(app: Flask) -> None:
    app.json = SafeJSONProvider(app)
    app.before_request(_refuse_unstorable_text)
