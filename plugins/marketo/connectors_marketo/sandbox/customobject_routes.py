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
        if request.content_type == "application/json" and request.body:
            return compound_query(request, kind)
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

    def compound_query(request: Request, kind) -> Response:
        """``POST .../{name}.json?_method=GET`` with a JSON body (Adobe, "Query" with compound
        keys): ``filterType`` (e.g. ``dedupeFields``), ``fields``, ``batchSize``,
        ``nextPageToken`` and an ``input`` array of key objects instead of ``filterValues``.
        ``seq`` is the position of the matching input."""
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError("609", "Invalid JSON") from None
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        filter_type, keys = body.get("filterType"), body.get("input")
        if not filter_type or not isinstance(keys, list) or not keys:
            raise ApiError("1003", "filterType and input are required")
        if len(keys) > 300:
            raise ApiError("1003", "Too many input records (max 300)")
        names = {"dedupeFields": kind.dedupe_fields, "idField": ("marketoGUID",)}.get(filter_type, (filter_type,))
        if filter_type not in ("dedupeFields", "idField") and [filter_type] not in kind.searchable():
            raise ApiError("1003", f"Invalid filterType '{filter_type}'")
        fields = body.get("fields")
        if fields is not None and (not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)):
            raise ApiError("1003", "fields must be a list of field names")
        unknown = [f for f in fields or () if f not in kind.field_names | {"marketoGUID", "createdAt", "updatedAt"}]
        if unknown:
            raise ApiError("1006", f"Field '{unknown[0]}' not found")
        matches = []
        for seq, key in enumerate(keys):
            if not isinstance(key, dict) or any(key.get(n) in (None, "") for n in names):
                raise ApiError("1003", f"Each input record needs {', '.join(names)}")
            wanted = tuple(str(key[n]) for n in names)
            matches += [(seq, row) for row in store.records[kind.name] if tuple(str(row.get(n)) for n in names) == wanted]
        scope = f"co:{kind.name}:{filter_type}:{len(keys)}"
        try:
            start = decode_page_token(body.get("nextPageToken"), scope) or 0
        except BadPageToken:
            raise ApiError("1003", "Invalid nextPageToken") from None
        size = int(body.get("batchSize") or 300)
        page = matches[start:start + size]
        token = encode_page_token(scope, start + size) if start + size < len(matches) else None
        return sandbox.ok([store.project(kind, seq, row, fields) for seq, row in page], token)

    sandbox.routes.add("GET", r"/rest/v1/customobjects\.json", list_types)
    sandbox.routes.add("GET", rf"/rest/v1/customobjects/{NAME}/describe\.json", describe)
    sandbox.routes.add("POST", rf"/rest/v1/customobjects/{NAME}\.json", upsert)
    sandbox.routes.add("GET", rf"/rest/v1/customobjects/{NAME}\.json", query)
