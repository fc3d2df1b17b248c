"""Custom object endpoints: list and describe types, upsert and query records.

With ``sandbox.custom_objects_enabled`` off (a subscription without the feature) every one of
them answers 1026."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response

from .envelope import ApiError
from .lead_write_routes import json_body
from .params import batch_size, csv_values
from .store import BadPageToken, decode_page_token, encode_page_token

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox

NAME = r"(?P<name>[A-Za-z][A-Za-z0-9_]*)"


def register(sandbox: "MarketoSandbox") -> None:
    store = sandbox.custom_objects

    def enabled() -> None:
        if not sandbox.custom_objects_enabled:
            raise ApiError("1026", "Custom objects are not enabled for this subscription")

    def list_types(request: Request) -> Response:
        enabled()
        names = csv_values(request, "names")
        kinds = [t for t in store.types.values() if names is None or t.name in names]
        return sandbox.ok([t.metadata() for t in kinds])

    def describe(request: Request) -> Response:
        enabled()
        return sandbox.ok([store.type(request.path_params["name"]).describe()])

    def upsert(request: Request) -> Response:
        enabled()
        return sandbox.ok(store.sync(request.path_params["name"], json_body(request)))

    def query(request: Request) -> Response:
        enabled()
        name = request.path_params["name"]
        kind = store.type(name)
        filter_type, values = request.arg("filterType"), csv_values(request, "filterValues")
        if not filter_type or not values:
            raise ApiError("1003", "filterType and filterValues are required")
        if len(values) > 300:
            raise ApiError("1003", "Too many filterValues (max 300)")
        fields = csv_values(request, "fields")
        unknown = [f for f in fields or () if f not in kind.field_names | {"marketoGUID", "createdAt", "updatedAt"}]
        if unknown:
            raise ApiError("1006", f"Field '{unknown[0]}' not found")
        rows = store.query(name, filter_type, values)
        scope = f"co:{name}:{filter_type}:{','.join(sorted(values))}"
        try:
            start = decode_page_token(request.arg("nextPageToken"), scope) or 0
        except BadPageToken:
            raise ApiError("1003", "Invalid nextPageToken") from None
        size = batch_size(request)
        page = rows[start:start + size]
        token = encode_page_token(scope, start + size) if start + size < len(rows) else None
        return sandbox.ok([store.project(kind, start + i, row, fields) for i, row in enumerate(page)], token)

    sandbox.routes.add("GET", r"/rest/v1/customobjects\.json", list_types)
    sandbox.routes.add("GET", rf"/rest/v1/customobjects/{NAME}/describe\.json", describe)
    sandbox.routes.add("POST", rf"/rest/v1/customobjects/{NAME}\.json", upsert)
    sandbox.routes.add("GET", rf"/rest/v1/customobjects/{NAME}\.json", query)
