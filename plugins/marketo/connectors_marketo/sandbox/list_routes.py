"""Static list endpoints: find lists, one list, list members (current and legacy paths), and
list membership: add, remove, is-member (spec §2.3)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response

from .envelope import ApiError, skipped
from .params import MAX_BATCH, after_id, batch_size, csv_values, lead_fields
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

    def membership(change: str):
        """Per lead id, in input order: added / removed / memberof|notmemberof, or skipped
        (1004 no such lead, 1015 not in the list when removing)."""
        def handle(request: Request) -> Response:
            list_id = int(request.path_params["id"])
            if list_id not in store.lists:
                raise ApiError("1013", "Static list not found")
            members, results = store.members[list_id], []
            for raw in _lead_ids(request):
                lead_id = int(raw) if raw.isdigit() else None
                if lead_id is None or lead_id not in store.leads:
                    results.append(skipped("1004", id=lead_id if lead_id is not None else raw))
                elif change == "add":
                    members.add(lead_id)
                    results.append({"id": lead_id, "status": "added"})
                elif change == "remove" and lead_id not in members:
                    results.append(skipped("1015", "Lead not in list", id=lead_id))
                elif change == "remove":
                    members.discard(lead_id)
                    results.append({"id": lead_id, "status": "removed"})
                else:
                    results.append({"id": lead_id, "status": "memberof" if lead_id in members else "notmemberof"})
            return sandbox.ok(results)
        return handle

    sandbox.routes.add("GET", r"/rest/v1/lists\.json", find_lists)
    sandbox.routes.add("GET", r"/rest/v1/lists/(?P<id>\d+)\.json", one_list)
    sandbox.routes.add("GET", r"/rest/v1/lists/(?P<id>\d+)/leads\.json", members)
    sandbox.routes.add("GET", r"/rest/v1/list/(?P<id>\d+)/leads\.json", members)
    sandbox.routes.add("POST", r"/rest/v1/lists/(?P<id>\d+)/leads\.json", membership("add"))
    sandbox.routes.add("DELETE", r"/rest/v1/lists/(?P<id>\d+)/leads\.json", membership("remove"))
    sandbox.routes.add("GET", r"/rest/v1/lists/(?P<id>\d+)/leads/ismember\.json", membership("check"))


def _lead_ids(request: Request) -> list[str]:
    """The lead ids of a membership call: ``id`` query parameters, repeated or comma-separated
    (Adobe's docs), or a JSON body ``{"input": [{"id": ..}]}`` (Adobe's OpenAPI
    ``ListOperationRequest``, what marketorestpython sends). At most 300."""
    ids = csv_values(request, "id")
    if not ids and request.content_type == "application/json" and request.body:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError("609", "Invalid JSON") from None
        records = body.get("input") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise ApiError("1003", "input is required")
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in records]
    if not ids:
        raise ApiError("1003", "id is required")
    if len(ids) > MAX_BATCH:
        raise ApiError("1003", f"Too many ids (max {MAX_BATCH})")
    return ids


def _as_set(values: list[str] | None) -> set[str] | None:
    return set(values) if values is not None else None
