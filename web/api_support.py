"""What every API view shares: JSON errors, loading a request through a schema, and the
``operation`` decorator whose notes become the view's entry in the OpenAPI document."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import jsonify, make_response, request
from marshmallow import Schema, ValidationError

from connectors.errors import flatten_messages

from .input_guard import problems_in, query_problems

#: Who may call an operation, as the document says it (the views check it with ``access``).
ROLES = {"any": "Administrators and event builders (event builders: their assigned events only).",
         "admin": "Administrators only (event builders get 403).",
         "ingest": "An account's ingestion token (`cnk_…`), not a user token."}


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    roles: str = "any"
    query: type[Schema] | None = None
    body: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    media: str = "application/json"  # what a 2xx answer is (a download: ``text/csv``)


def operation(summary: str, *, tag: str, **notes: Any) -> Callable:
    """Attach the documentation of a view; ``api_docs`` walks the URL map and reads it."""
    def mark(view: Callable) -> Callable:
        view.api_operation = Operation(summary, tag, **notes)  # type: ignore[attr-defined]
        return view
    return mark


#: Where each error status puts its reason when no field is to blame.
GENERAL_FIELD = {400: "body", 401: "authorization", 403: "role", 404: "resource", 405: "method", 409: "state",
                 413: "body", 415: "body", 422: "body", 500: "server"}


def general_field(status: int) -> str:
    return GENERAL_FIELD.get(status, "request")


def error_response(status: int, messages: dict[str, list[str]]):
    return make_response(jsonify(errors=messages), status)


class ApiError(Exception):
    """Raised in a view to answer ``{"errors": messages}`` with ``status``."""

    def __init__(self, status: int, messages: dict[str, list[str]]):
        super().__init__(messages)
        self.status, self.messages = status, messages


def load_query(schema: type[Schema]) -> dict[str, Any]:
    """The query string checked by ``schema`` (400 naming each bad parameter)."""
    unstorable = query_problems(request.args)
    if unstorable:
        raise ApiError(400, unstorable)
    try:
        return schema().load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(400, flatten_messages(exc.messages, "")) from None


def load_body(schema: type[Schema]) -> dict[str, Any]:
    """The JSON body checked by ``schema`` (400 when it is not a JSON object, 422 naming each bad field)."""
    body = request.get_json(silent=True)  # None when unreadable, nested too deep included (``input_guard``)
    if not isinstance(body, dict):
        raise ApiError(400, {"body": ["send a JSON object (Content-Type: application/json)"]})
    unstorable = problems_in(body)
    if unstorable:
        raise ApiError(422, unstorable)
    try:
        return schema().load(body)
    except ValidationError as exc:
        raise ApiError(422, flatten_messages(exc.messages, "")) from None


def dump(schema: type[Schema], obj: Any, status: int = 200):
    return make_response(jsonify(schema().dump(obj)), status)


def page_info(page: int, per_page: int, total: int) -> dict[str, int]:
    return {"page": page, "per_page": per_page, "total": total}
