"""The OpenAPI document: generated from the views' schemas, structurally valid OpenAPI 3, and
complete — every /api/v1 route of the URL map is in it (a new route without docs fails here)."""
from __future__ import annotations

import re

from connectors.web.api_docs import api_rules, openapi_path

from .api_helpers import api, errors_of  # noqa: F401  (fixture)
from .conftest import login

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _spec(api):
    resp = api.call("GET", "/api/v1/openapi.json", "builder")
    assert resp.status_code == 200
    return resp.get_json()


def test_every_api_route_is_documented(api, app):
    spec = _spec(api)
    rules = api_rules(app)
    assert len(rules) >= 25
    for rule in rules:
        path = openapi_path(rule.rule)
        assert path in spec["paths"], f"{rule.rule} is not in the OpenAPI document"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], f"{method} {rule.rule} is not documented"
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    routed = {(openapi_path(r.rule), m.lower()) for r in rules for m in (r.methods or set()) - {"HEAD", "OPTIONS"}}
    assert documented == routed


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_document_is_structurally_valid_openapi_3(api):
    spec = _spec(api)
    assert re.fullmatch(r"3\.0\.\d", spec["openapi"])
    assert spec["info"]["title"] and spec["info"]["version"]
    schemas = spec["components"]["schemas"]
    for ref in set(_refs(spec)):  # every reference resolves
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    op_ids = []
    for path, ops in spec["paths"].items():
        assert path.startswith("/api/v1/")
        declared = set(re.findall(r"{(\w+)}", path))
        for method, op in ops.items():
            assert method in HTTP_METHODS
            op_ids.append(op["operationId"])
            assert op["summary"] and op["responses"] and op["security"]
            in_path = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert in_path == declared, (path, method)
            for p in op.get("parameters", []):
                assert p["in"] in {"path", "query"} and "schema" in p and (p["in"] != "path" or p["required"])
            for code, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", code) and response["description"]
            assert "401" in op["responses"]
    assert len(op_ids) == len(set(op_ids))


def test_the_schemas_are_the_views_schemas(api):
    spec = _spec(api)
    submit = spec["paths"]["/api/v1/jobs"]["post"]
    body = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(spec["components"]["schemas"][body]["properties"]) >= {"job_type", "event", "params", "schedule"}
    assert spec["components"]["schemas"][body]["required"] == ["job_type"]
    records = spec["paths"]["/api/v1/runs/{run_id}/records"]["get"]
    names = {p["name"] for p in records["parameters"]}
    assert {"run_id", "outcome", "stage", "code", "text", "show", "page", "per_page"} <= names
    kind = next(p for p in spec["paths"]["/api/v1/events/{event_code}/registrations/{registration_id}/{kind}/"
                                      "{subject_code}/status"]["post"]["parameters"] if p["name"] == "kind")
    assert kind["schema"]["enum"] == ["sessions", "agenda-items"]
    assert spec["paths"]["/api/v1/status-changes"]["post"]["security"] == [{"ingestionToken": []}]


def test_the_document_needs_a_token_or_a_session(api, world):
    assert api.call("GET", "/api/v1/openapi.json", "bad").status_code == 401
    anonymous = api.client.get("/api/v1/openapi.json")
    assert anonymous.status_code in (302, 401)


def test_the_docs_page_lists_operations_parameters_and_schemas(app, world):
    client = app.test_client()
    assert login(client, "builder@acme.test").status_code == 302
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "POST /api/v1/jobs" in html and "GET /api/v1/runs/{run_id}/records" in html
    assert 'id="schema-JobSubmit"' in html and "<code>per_page</code>" in html
    assert "<script" not in html.split("</head>", 1)[1]  # no script in the page body; the head's is the admin's own
    assert "http://" not in html and "https://" not in html  # nothing from another site
