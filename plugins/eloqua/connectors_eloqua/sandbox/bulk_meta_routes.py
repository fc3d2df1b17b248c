"""Bulk catalogue endpoints (spec §2.3-§2.5, §7.3): contact fields, contact lists, custom objects
and their fields, as ``{items, totalResults, limit, offset, count, hasMore}`` with ``q`` filters."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from connectors.sandbox import Request, Response, Routes, json_response

from .params import bulk_q, bulk_window, filtered
from .responses import bulk_page, not_found
from .rest_common import path_id

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

BULK = r"(?i)/api/bulk/2\.0"


def page(request: Request, items: list[Any], value_of: Callable[[Any, str], str | None],
         shape: Callable[[Any], dict[str, Any]]) -> Response:
    limit, offset = bulk_window(request)
    found = filtered(items, bulk_q(request), value_of)
    return bulk_page([shape(i) for i in found[offset:offset + limit]], len(found), limit, offset)


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    def contact_fields(request: Request) -> Response:
        fields = sorted(sandbox.contacts.fields.values(), key=lambda f: f.id)
        return page(request, fields, lambda f, t: f.internal_name if t.lower() == "internalname" else f.name,
                    lambda f: f.bulk())

    def contact_field(request: Request) -> Response:
        found = sandbox.contacts.field_by_id(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.bulk())

    def contact_lists(request: Request) -> Response:
        lists = sorted(sandbox.lists.lists.values(), key=lambda r: r.id)
        return page(request, lists, lambda r, t: r.name, lambda r: r.bulk())

    def custom_objects(request: Request) -> Response:
        objects = sorted(sandbox.custom_objects.objects.values(), key=lambda o: o.id)
        return page(request, objects, lambda o, t: o.name, lambda o: o.bulk())

    def custom_object(request: Request) -> Response:
        found = sandbox.custom_objects.objects.get(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.bulk())

    def custom_object_fields(request: Request) -> Response:
        found = sandbox.custom_objects.objects.get(path_id(request))
        if found is None:
            raise not_found()
        return page(request, list(found.fields), lambda f, t: f.internal_name if t.lower() == "internalname" else f.name,
                    lambda f: f.bulk(found.id))

    routes.add("GET", BULK + r"/contacts/fields", contact_fields)
    routes.add("GET", BULK + r"/contacts/fields/(?P<id>[^/]+)", contact_field)
    routes.add("GET", BULK + r"/contacts/lists", contact_lists)
    routes.add("GET", BULK + r"/customObjects", custom_objects)
    routes.add("GET", BULK + r"/customObjects/(?P<id>\d+)", custom_object)
    routes.add("GET", BULK + r"/customObjects/(?P<id>\d+)/fields", custom_object_fields)
