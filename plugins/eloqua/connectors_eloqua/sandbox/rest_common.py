"""What every REST route needs: paths matched without case under both API versions, the JSON
body (400 "parsing error" otherwise) and ids in paths (400 ``IdRequirement`` otherwise)."""
from __future__ import annotations

from typing import Any

from connectors.sandbox import Request

from .responses import ApiError, invalid, parameter_error, plain

#: ``/api/REST/1.0/`` or ``/API/rest/2.0/``: the docs mix the cases, so the sandbox ignores them
REST = r"(?i)/api/rest/(?:1\.0|2\.0)"
REST1 = r"(?i)/api/rest/1\.0"
REST2 = r"(?i)/api/rest/2\.0"
ID = r"(?P<id>[^/]+)"


def body(request: Request) -> dict[str, Any]:
    try:
        loaded = request.json()
    except ValueError:
        raise ApiError(plain(400, "There was a parsing error.")) from None
    if not isinstance(loaded, dict):
        raise ApiError(plain(400, "There was a serialization error."))
    return loaded


def path_id(request: Request, name: str = "id") -> int:
    raw = request.path_params[name]
    try:
        value = int(raw)
    except ValueError:
        raise invalid(parameter_error(name, "IdRequirement", raw, isRelativeAllowed=False)) from None
    if value <= 0:
        raise invalid(parameter_error(name, "IdRequirement", raw, isRelativeAllowed=False))
    return value


def order(items: list, order_by: str | None, value_of) -> list:
    """``orderBy=updatedAt DESC`` (one term; ascending unless DESC)."""
    if not order_by:
        return items
    name, _, direction = order_by.strip().partition(" ")

    def key(item: Any) -> tuple[int, float | str]:
        value = value_of(item, name) or ""
        try:
            return (0, float(value))
        except ValueError:
            return (1, value.lower())

    return sorted(items, key=key, reverse=direction.strip().upper() == "DESC")
