"""Campaign endpoints: find campaigns, one campaign, request (trigger) a campaign."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response

from .campaigns import as_set
from .envelope import ApiError
from .lead_write_routes import json_body
from .params import after_id, batch_size, csv_values
from .store import encode_page_token, page_after

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox


def register(sandbox: "MarketoSandbox") -> None:
    campaigns = sandbox.campaigns

    def find(request: Request) -> Response:
        try:
            ids = csv_values(request, "id")
            id_set = {int(i) for i in ids} if ids is not None else None
        except ValueError:
            raise ApiError("1003", "Invalid id") from None
        flag = request.arg("isTriggerable")
        if flag not in (None, "", "true", "false"):
            raise ApiError("1003", f"Invalid isTriggerable '{flag}'")
        triggerable = None if not flag else flag == "true"
        found = campaigns.find(id_set, as_set(csv_values(request, "name")), as_set(csv_values(request, "programName")),
                               as_set(csv_values(request, "workspaceName")), triggerable)
        scope = "campaigns:" + "|".join(request.arg(n, "") for n in ("id", "name", "programName", "isTriggerable"))
        page, last_id = page_after(found, after_id(request, scope), batch_size(request))
        token = encode_page_token(scope, last_id) if last_id is not None else None
        return sandbox.ok([dict(r) for r in page], token)

    def one(request: Request) -> Response:
        record = campaigns.campaigns.get(int(request.path_params["id"]))
        if record is None:
            raise ApiError("1013", "Campaign not found")
        return sandbox.ok([dict(record)])

    def trigger(request: Request) -> Response:
        run = campaigns.trigger(int(request.path_params["id"]), json_body(request))
        return sandbox.ok([{"id": run.campaign_id}])

    sandbox.routes.add("GET", r"/rest/v1/campaigns\.json", find)
    sandbox.routes.add("GET", r"/rest/v1/campaigns/(?P<id>\d+)\.json", one)
    sandbox.routes.add("POST", r"/rest/v1/campaigns/(?P<id>\d+)/trigger\.json", trigger)
