"""Lead endpoints: describe, describe2, one lead by id, leads by filter type."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response

from .envelope import ApiError
from .params import MAX_BATCH, after_id, batch_size, csv_values, lead_fields
from .store import encode_page_token, page_after

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox

MAX_FILTER_MATCHES = 1000


def register(sandbox: "MarketoSandbox") -> None:
    store = sandbox.store

    def describe(request: Request) -> Response:
        return sandbox.ok([f.describe() for f in store.fields.values()])

    def describe2(request: Request) -> Response:
        searchable = [[f.name] for f in store.fields.values() if f.searchable]
        fields = [f.describe2() for f in store.fields.values()]
        return sandbox.ok([{"name": "API Lead", "searchableFields": searchable, "fields": fields}])

    def lead_by_id(request: Request) -> Response:
        fields = lead_fields(request, store)
        lead = store.leads.get(int(request.path_params["id"]))
        return sandbox.ok([store.project(lead, fields)] if lead else [])

    def leads_by_filter(request: Request) -> Response:
        filter_type = request.arg("filterType")
        values = csv_values(request, "filterValues")
        if not filter_type or not values:
            raise ApiError("1003", "filterType and filterValues are required")
        field = store.fields.get(filter_type)
        if field is None or not field.searchable:
            raise ApiError("1011", f"Field '{filter_type}' not supported")
        if len(values) > MAX_BATCH:
            raise ApiError("1003", f"Too many filterValues (max {MAX_BATCH})")
        fields = lead_fields(request, store)
        matches = sorted(store.find_leads(filter_type, values), key=lambda lead: lead["id"])
        if len(matches) > MAX_FILTER_MATCHES:
            raise ApiError("1003", "Too many results match the filter")
        scope = f"leads:{filter_type}:{','.join(sorted(values))}"
        page, last_id = page_after(matches, after_id(request, scope), batch_size(request))
        token = encode_page_token(scope, last_id) if last_id is not None else None
        return sandbox.ok([store.project(lead, fields) for lead in page], token)

    sandbox.routes.add("GET", r"/rest/v1/leads/describe\.json", describe)
    sandbox.routes.add("GET", r"/rest/v1/leads/describe2\.json", describe2)
    sandbox.routes.add("GET", r"/rest/v1/lead/(?P<id>\d+)\.json", lead_by_id)
    sandbox.routes.add("GET", r"/rest/v1/leads\.json", leads_by_filter)
