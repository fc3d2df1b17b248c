"""REST shared contact lists (spec §2.4, §7.2): membership changes travel in a PUT of the whole
list (``name`` required) with ``membershipAdditions`` / ``membershipDeletions``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response, Routes, json_response

from .lists import ContactList
from .params import filtered, parse_search, rest_paging
from .responses import invalid, not_found, object_error, rest_list
from .rest_common import ID, REST, body, path_id

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    store = sandbox.lists

    def list_of(request: Request) -> ContactList:
        found = store.lists.get(path_id(request))
        if found is None:
            raise not_found()
        return found

    def listing(request: Request) -> Response:
        paging = rest_paging(request)
        found = filtered(sorted(store.lists.values(), key=lambda r: r.id), parse_search(request.arg("search")),
                         lambda r, term: str(r.id) if term == "id" else r.name)
        return rest_list([r.rest(paging.depth) for r in paging.slice(found)], paging.page, len(found))

    def read(request: Request) -> Response:
        return json_response(list_of(request).rest((request.arg("depth") or "complete").lower()))

    def create(request: Request) -> Response:
        data = body(request)
        if not data.get("name"):
            raise invalid(object_error("ContactList", "name", "NotNullRequirement"))
        additions = _contact_ids(sandbox, data.get("membershipAdditions"), "membershipAdditions")
        record = store.create(str(data["name"]), additions, description=str(data.get("description") or ""))
        return json_response(record.rest(), 201)

    def replace(request: Request) -> Response:
        record = list_of(request)
        data = body(request)
        if not data.get("name"):
            raise invalid(object_error("ContactList", "name", "NotNullRequirement"))
        additions = _contact_ids(sandbox, data.get("membershipAdditions"), "membershipAdditions")
        deletions = _contact_ids(sandbox, data.get("membershipDeletions"), "membershipDeletions")
        record.name = str(data["name"])
        if "description" in data:
            record.description = str(data["description"] or "")
        store.add(record.id, additions)
        store.remove(record.id, deletions)
        return json_response(record.rest())

    def delete(request: Request) -> Response:
        del store.lists[list_of(request).id]
        return Response(200)

    routes.add("GET", REST + r"/assets/contact/lists", listing)
    routes.add("POST", REST + r"/assets/contact/list", create)
    routes.add("GET", REST + r"/assets/contact/list/" + ID, read)
    routes.add("PUT", REST + r"/assets/contact/list/" + ID, replace)
    routes.add("DELETE", REST + r"/assets/contact/list/" + ID, delete)


def _contact_ids(sandbox: "EloquaSandbox", raw: Any, prop: str) -> list[int]:
    """Contact ids as strings (or numbers); an unknown one refuses the whole change."""
    ids = []
    for value in raw or []:
        try:
            contact_id = int(str(value))
        except ValueError:
            contact_id = -1
        if contact_id not in sandbox.contacts.contacts:
            raise invalid(object_error("ContactList", prop, "RelationshipRequirement", value))
        ids.append(contact_id)
    return ids
