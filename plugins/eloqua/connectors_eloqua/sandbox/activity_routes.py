"""REST external activities and their taxonomy (spec §2.6, §7.2): create and read activities
(no list, update or delete, as in Eloqua), external asset types, external assets, campaigns."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response, Routes, json_response

from .params import filtered, parse_search, rest_paging
from .responses import invalid, not_found, object_error, rest_list
from .rest_common import ID, REST2, body, path_id

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

#: which requirement a broken activity rule reports
REQUIREMENTS = {"contactId": "RelationshipRequirement", "assetType": "RelationshipRequirement",
                "activityType": "RelationshipRequirement", "campaignId": "RelationshipRequirement"}


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    store = sandbox.activities

    def create(request: Request) -> Response:
        data = body(request)
        for prop in ("contactId", "activityType", "assetType", "assetName"):
            if data.get(prop) in (None, ""):
                raise invalid(object_error("Activity", prop, "NotNullRequirement"))
        broken = store.check(data["contactId"], str(data["assetType"]), str(data["activityType"]),
                             data.get("campaignId"))
        if broken is not None:
            code, message, prop = broken
            raise invalid(object_error("Activity", prop, REQUIREMENTS[prop], data.get(prop), message=message,
                                       code=code))
        raw_date = data.get("activityDate")
        try:
            activity_date = int(str(raw_date)) if raw_date not in (None, "") else int(sandbox.now())
        except ValueError:
            raise invalid(object_error("Activity", "activityDate", "DateRequirement", raw_date)) from None
        campaign = data.get("campaignId")
        activity, _ = store.create(
            int(data["contactId"]), str(data["assetType"]), str(data["activityType"]), str(data["assetName"]),
            activity_date, int(campaign) if campaign not in (None, "") else None,
            created_by=sandbox.current_username(), name=str(data.get("name") or ""),
            description=str(data.get("description") or ""), field_values=list(data.get("fieldValues") or []))
        return json_response(activity.rest(), 201)

    def read(request: Request) -> Response:
        found = store.activities.get(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.rest())

    def asset_types(request: Request) -> Response:
        paging = rest_paging(request, "complete")
        found = filtered(sorted(store.asset_types.values(), key=lambda t: t.id), parse_search(request.arg("search")),
                         lambda t, term: str(t.id) if term == "id" else t.name)
        return rest_list([t.rest() for t in paging.slice(found)], paging.page, len(found))

    def asset_type(request: Request) -> Response:
        found = store.asset_types.get(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.rest())

    def create_asset_type(request: Request) -> Response:
        data = body(request)
        if not data.get("name"):
            raise invalid(object_error("ExternalAssetType", "name", "NotNullRequirement"))
        names = [str(a.get("name")) for a in data.get("activityTypes") or [] if isinstance(a, dict) and a.get("name")]
        return json_response(store.add_asset_type(str(data["name"]), names).rest(), 201)

    def assets(request: Request) -> Response:
        paging = rest_paging(request, "complete")
        found = filtered(sorted(store.assets.values(), key=lambda a: a.id), parse_search(request.arg("search")),
                         lambda a, term: str(a.id) if term == "id" else a.name)
        return rest_list([a.rest() for a in paging.slice(found)], paging.page, len(found))

    def asset(request: Request) -> Response:
        found = store.assets.get(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.rest())

    def create_asset(request: Request) -> Response:
        data = body(request)
        type_id = data.get("externalAssetTypeId")
        if not data.get("name"):
            raise invalid(object_error("ExternalAsset", "name", "NotNullRequirement"))
        if not str(type_id or "").isdigit() or int(type_id) not in store.asset_types:
            raise invalid(object_error("ExternalAsset", "externalAssetTypeId", "RelationshipRequirement", type_id))
        return json_response(store.add_asset(int(type_id), str(data["name"])).rest(), 201)

    def campaigns(request: Request) -> Response:
        paging = rest_paging(request)
        found = filtered(sorted(store.campaigns.values(), key=lambda c: c.id), parse_search(request.arg("search")),
                         lambda c, term: str(c.id) if term == "id" else c.status if term == "currentStatus" else c.name)
        return rest_list([c.rest(paging.depth) for c in paging.slice(found)], paging.page, len(found))

    def campaign(request: Request) -> Response:
        found = store.campaigns.get(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.rest())

    routes.add("POST", REST2 + r"/data/activity", create)
    routes.add("GET", REST2 + r"/data/activity/" + ID, read)
    routes.add("GET", REST2 + r"/assets/external/types", asset_types)
    routes.add("GET", REST2 + r"/assets/external/type/" + ID, asset_type)
    routes.add("POST", REST2 + r"/assets/external/type", create_asset_type)
    routes.add("GET", REST2 + r"/assets/externals", assets)
    routes.add("GET", REST2 + r"/assets/external/" + ID, asset)
    routes.add("POST", REST2 + r"/assets/external", create_asset)
    routes.add("GET", REST2 + r"/assets/campaigns", campaigns)
    routes.add("GET", REST2 + r"/assets/campaign/" + ID, campaign)
