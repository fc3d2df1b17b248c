"""The API's OpenAPI 3 document, generated from the URL map and the views' ``operation`` notes
with apispec's marshmallow plugin (the request and answer schemas are the ones the views load
and dump), and a plain server-rendered page listing it: no script, nothing from another site."""
from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, jsonify, render_template

from .api import bp
from .api_schemas import ErrorSchema
from .api_support import ROLES, Operation
from .converters import MAX_ID

PREFIX = "/api/v1"
TITLE = "Connectors API"
VERSION = "1"
#: ``<int:job_id>``, ``<any(sessions, 'agenda-items'):kind>``, ``<event_code>``
_RULE_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
ERROR_TEXT = {400: "The request could not be read (the body is not JSON, a query parameter is bad).",
              401: "No token, or not a live one.", 403: "Your role does not allow it.",
              404: "Not found, or it belongs to another account (or an event you are not assigned to).",
              409: "Its state does not allow it now.", 413: "Too large.",
              422: "Invalid: each bad field with its reasons."}
SECURITY = {"ingest": "ingestionToken"}


def api_rules(app: Flask) -> list:
    """The URL rules of the API, in a stable order."""
    return sorted((r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX + "/")),
                  key=lambda r: (r.rule, sorted(r.methods or ())))


def openapi_path(rule: str) -> str:
    return _RULE_ARG.sub(lambda m: "{" + m.group(3) + "}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    params = []
    for converter, args, name in _RULE_ARG.findall(rule):
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID} if converter == "int" \
            else {"type": "string", "minLength": 1}
        if converter == "any":
            schema["enum"] = [a.strip().strip("'\"") for a in args.split(",")]
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    return params


def _operation(endpoint: str, rule: str, op: Operation) -> dict[str, Any]:
    who = ROLES[op.roles]
    out: dict[str, Any] = {
        "operationId": endpoint.split(".", 1)[1], "summary": op.summary, "tags": [op.tag],
        "description": f"{op.description}\n\nWho may call it: {who}".strip(),
        "security": [{SECURITY.get(op.roles, "userToken"): []}],
        "parameters": _path_parameters(rule) + ([{"in": "query", "schema": op.query}] if op.query else []),
    }
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    ok: dict[str, Any] = {"description": "No content." if op.status == 204 else "Done."}
    if op.media != "application/json":
        ok["content"] = {op.media: {"schema": {"type": "string"}}}
    elif op.response is not None and op.status != 204:
        ok["content"] = {"application/json": {"schema": op.response}}
    out["responses"] = {str(op.status): ok}
    for code in sorted({401, *op.errors}):
        out["responses"][str(code)] = {"description": ERROR_TEXT[code],
                                       "content": {"application/json": {"schema": "Error"}}}
    return out


def build_spec(app: Flask) -> dict[str, Any]:
    """The document: every API rule, each method its view's ``operation`` notes."""
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": "Everything the admin pages do, for scripts. Authenticate with a user "
                                        "API token: `Authorization: Bearer cnu_…`. Errors are "
                                        "`{\"errors\": {field: [reasons]}}`. See docs/api.md."})
    spec.components.security_scheme("userToken", {"type": "http", "scheme": "bearer",
                                                  "description": "A user's API token (cnu_…): acts as that user."})
    spec.components.security_scheme("ingestionToken", {"type": "http", "scheme": "bearer",
                                                       "description": "An account's ingestion token (cnk_…)."})
    spec.components.schema("Error", schema=ErrorSchema)
    for rule in api_rules(app):
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "api_operation", None)
        if op is None:
            continue  # left out of the document: the test that walks the URL map fails
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        spec.path(path=openapi_path(rule.rule),
                  operations={m.lower(): _operation(rule.endpoint, rule.rule, op) for m in methods})
    return spec.to_dict()


def spec_of(app: Flask) -> dict[str, Any]:
    if "connectors_api_spec" not in app.extensions:
        app.extensions["connectors_api_spec"] = build_spec(app)
    return app.extensions["connectors_api_spec"]


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec_of(current_app._get_current_object()))  # type: ignore[attr-defined]


@bp.get("/docs")
def docs():
    spec = spec_of(current_app._get_current_object())  # type: ignore[attr-defined]
    return render_template("api/docs.html", spec=spec, operations=_operations(spec),
                           schemas=spec.get("components", {}).get("schemas", {}), ref_name=ref_name)


DOCS_NOTE = Operation("The API's OpenAPI 3 document", tag="documentation",
                      description="Readable with a user token, or in a browser signed in to the admin.")
openapi.api_operation = DOCS_NOTE  # type: ignore[attr-defined]
docs.api_operation = Operation("This document as a page", tag="documentation",  # type: ignore[attr-defined]
                               description="Operations, parameters and schemas, server-rendered.")


def ref_name(obj: Any) -> str:
    """A schema as the page names it: its component's name, or its type."""
    if not isinstance(obj, dict):
        return ""
    if "$ref" in obj:
        return obj["$ref"].rsplit("/", 1)[-1]
    if obj.get("type") == "array":
        return f"list of {ref_name(obj.get('items', {})) or 'values'}"
    if "enum" in obj:
        return f"{obj.get('type', 'string')}: " + " | ".join(map(str, obj["enum"]))
    return str(obj.get("type") or "object")


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation, grouped order: by tag, then path."""
    rows = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            rows.append({"method": method.upper(), "path": path, "op": op, "body": body,
                         "anchor": op.get("operationId", f"{method}-{path}")})
    return sorted(rows, key=lambda r: (r["op"].get("tags", [""])[0], r["path"], r["method"]))
