"""Static list endpoints: find lists, one list, and list members (current and legacy paths)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response

from .envelope import ApiError
from .params import after_id, batch_size, csv_values, lead_fields
from .store import encode_page_token, page_after

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox


def register(sandbox: "MarketoSandbox") -> None:
    store = sandbox.store

    def find_lists(request: Request) -> Response:
        ids = csv_values(request, "id")
        try:
            id_set = {int(i) for i in ids} if ids is not None else None
        except ValueError:
            raise ApiError("1003", "Invalid id") from None
        names, programs, workspaces = (csv_values(request, n) for n in ("name", "programName", "workspaceName"))
        found = store.find_lists(id_set, _as_set(names), _as_set(programs), _as_set(workspaces))
        scope = "lists:" + request.arg("id", "") + ":" + request.arg("name", "")
        page, last_id = page_after(found, after_id(request, scope), batch_size(request))
        token = encode_page_token(scope, last_id) if last_id is not None else None
        return sandbox.ok([dict(record) for record in page], token)

    def one_list(request: Request) -> Response:
        record = store.lists.get(int(request.path_params["id"]))
        if record is None:
            raise ApiError("1013", "Static list not found")
        return sandbox.ok([dict(record)])

    def members(request: Request) -> Response:
        list_id = int(request.path_params["id"])
        if list_id not in store.lists:
            raise ApiError("1013", "Static list not found")
        fields = lead_fields(request, store)
        size = batch_size(request)
        scope = f"list:{list_id}"
        page, last_id = page_after(store.member_leads(list_id), after_id(request, scope), size)
        token = encode_page_token(scope, last_id) if last_id is not None else None
        return sandbox.ok([store.project(lead, fields) for lead in page], token)

    sandbox.routes.add("GET", r"/rest/v1/lists\.json", find_lists)
    sandbox.routes.add("GET", r"/rest/v1/lists/(?P<id>\d+)\.json", one_list)
    sandbox.routes.add("GET", r"/rest/v1/lists/(?P<id>\d+)/leads\.json", members)
    sandbox.routes.add("GET", r"/rest/v1/list/(?P<id>\d+)/leads\.json", members)


def _as_set(values: list[str] | None) -> set[str] | None:
    return set(values) if values is not None else None
