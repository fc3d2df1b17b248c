"""REST custom objects (spec §2.5, §7.2): definitions (read) and their records (search, read,
create, replace, delete). Field values go by field id; ``contactId`` must name a contact."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response, Routes, json_response

from .customobjects import CdoRecord, CustomObject
from .params import filtered, parse_search, rest_paging
from .responses import invalid, not_found, object_error, rest_list
from .rest_common import ID, REST2, body, path_id

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

PARENT = r"(?P<pid>[^/]+)"


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    store = sandbox.custom_objects

    def cdo_of(request: Request, key: str = "pid") -> CustomObject:
        found = store.objects.get(path_id(request, key))
        if found is None:
            raise not_found()
        return found

    def record_of(request: Request) -> tuple[CustomObject, CdoRecord]:
        cdo = cdo_of(request)
        record = cdo.records.get(path_id(request))
        if record is None:
            raise not_found()
        return cdo, record

    def definitions(request: Request) -> Response:
        paging = rest_paging(request)
        found = filtered(sorted(store.objects.values(), key=lambda o: o.id), parse_search(request.arg("search")),
                         lambda o, term: str(o.id) if term == "id" else o.name)
        return rest_list([o.rest(paging.depth) for o in paging.slice(found)], paging.page, len(found))

    def definition(request: Request) -> Response:
        return json_response(cdo_of(request, "id").rest((request.arg("depth") or "complete").lower()))

    def instances(request: Request) -> Response:
        cdo = cdo_of(request)
        paging = rest_paging(request)
        found = filtered(sorted(cdo.records.values(), key=lambda r: r.id), parse_search(request.arg("search")),
                         lambda r, term: _record_value(cdo, r, term))
        return rest_list([cdo.rest_record(r) for r in paging.slice(found)], paging.page, len(found))

    def create(request: Request) -> Response:
        cdo = cdo_of(request)
        data = body(request)
        record = store.add_record(cdo, _field_values(cdo, data), _contact(sandbox, data.get("contactId")))
        return json_response(cdo.rest_record(record), 201)

    def read(request: Request) -> Response:
        cdo, record = record_of(request)
        return json_response(cdo.rest_record(record))

    def replace(request: Request) -> Response:
        cdo, record = record_of(request)
        data = body(request)
        values = _field_values(cdo, data)
        record.contact_id = _contact(sandbox, data.get("contactId"))
        store.update_record(cdo, record, {f.id: values.get(f.id) for f in cdo.fields})
        return json_response(cdo.rest_record(record))

    def delete(request: Request) -> Response:
        cdo, record = record_of(request)
        del cdo.records[record.id]
        return Response(200)

    routes.add("GET", REST2 + r"/assets/customObjects", definitions)
    routes.add("GET", REST2 + r"/assets/customObject/" + ID, definition)
    routes.add("GET", REST2 + r"/data/customObject/" + PARENT + r"/instances", instances)
    routes.add("POST", REST2 + r"/data/customObject/" + PARENT + r"/instance", create)
    routes.add("GET", REST2 + r"/data/customObject/" + PARENT + r"/instance/" + ID, read)
    routes.add("PUT", REST2 + r"/data/customObject/" + PARENT + r"/instance/" + ID, replace)
    routes.add("DELETE", REST2 + r"/data/customObject/" + PARENT + r"/instance/" + ID, delete)


def _field_values(cdo: CustomObject, data: dict[str, Any]) -> dict[int, str]:
    values: dict[int, str] = {}
    for item in data.get("fieldValues") or []:
        found = cdo.field(item.get("id", "")) if isinstance(item, dict) else None
        if found is None or not str(item.get("id", "")).isdigit():
            raise invalid(object_error("CustomObjectData", "fieldValues", "IdRequirement",
                                       item.get("id") if isinstance(item, dict) else item))
        values[found.id] = "" if item.get("value") is None else str(item.get("value"))
    return values


def _contact(sandbox: "EloquaSandbox", raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        contact_id = int(str(raw))
    except ValueError:
        contact_id = -1
    if contact_id not in sandbox.contacts.contacts:
        raise invalid(object_error("CustomObjectData", "contactId", "RelationshipRequirement", raw))
    return contact_id


def _record_value(cdo: CustomObject, record: CdoRecord, term: str) -> str | None:
    if term in ("id", "uniqueCode", "name", "contactId"):
        return {"id": str(record.id), "uniqueCode": record.unique_code, "name": record.name,
                "contactId": str(record.contact_id or "")}[term]
    found = cdo.field(term)
    return record.values.get(found.id, "") if found else None
