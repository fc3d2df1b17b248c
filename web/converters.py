"""URL converters of the admin and the API.

``<int:...>`` in a rule is always a row id: a positive integer that fits the databases' 32-bit
``INTEGER`` (PostgreSQL refuses a bigger one; SQLite overflows past 2**63). A number outside that
range cannot be the id of anything, so it does not match the rule: the address answers 404, "not
found", like any other id that does not exist, instead of reaching the database and failing there.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter, RoutingException

from connectors.models import MAX_ID


class IdConverter(IntegerConverter):
    """``int`` with bounds: 1 to ``MAX_ID`` unless a rule asks for others (``<int(max=9):n>``)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _not_found_is_not_a_wrong_method() -> None:
    """Werkzeug checks a rule's converters only once its method matched, so ``PATCH /jobs/2147483648``
    would be a 405 (``GET`` "matched" the path) while ``GET`` is a 404. Asked with a method the
    address takes, the id is not found: then the answer is 404 whatever the method."""
    missed = request.routing_exception
    if not isinstance(missed, MethodNotAllowed) or not missed.valid_methods or request.url_rule is not None:
        return None
    adapter = current_app.create_url_adapter(request)
    try:
        adapter.match(request.path, method=sorted(missed.valid_methods)[0])
    except NotFound:
        request.routing_exception = NotFound()
    except (HTTPException, RoutingException):  # a redirect, say: the 405 stands
        pass
    return None


def init_app(app: Any) -> None:
    """Before any blueprint registers: rules pick their converter when they join the map, and this
    check runs before the API's and the admin's (which answer the routing error in their format)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_not_found_is_not_a_wrong_method)


def id_from(value: Any) -> int | None:
    """A query or form value as a row id: None when it cannot be one (not a number, or out of
    range), so the look-up finds nothing instead of overflowing the database's integer."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None
