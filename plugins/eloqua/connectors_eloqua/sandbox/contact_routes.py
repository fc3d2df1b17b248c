"""REST contacts and contact fields (spec §2.2, §2.3, §7.2): search, read, create (409 on a
taken email), replace (omitted standard properties are blanked, as in Eloqua), delete, list
membership, and the field catalogue."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response, Routes, json_response

from .contacts import Contact, valid_email
from .params import filtered, int_param, parse_search, rest_paging
from .responses import invalid, not_found, object_error, rest_list
from .rest_common import ID, REST, REST1, body, order, path_id

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    store = sandbox.contacts

    def contact_of(request: Request) -> Contact:
        found = store.contacts.get(path_id(request))
        if found is None:
            raise not_found()
        return found

    def search(request: Request) -> Response:
        paging = rest_paging(request)
        terms = parse_search(request.arg("search"))
        found = filtered(sorted(store.all(), key=lambda c: c.id), terms, store.search_value)
        since = int_param(request, "lastUpdatedAt", 0, minimum=0)
        if since:
            found = [c for c in found if c.updated_at >= since]
        found = order(found, request.arg("orderBy"), store.search_value)
        return rest_list([store.rest(c, paging.depth) for c in paging.slice(found)], paging.page, len(found))

    def read(request: Request) -> Response:
        depth = (request.arg("depth") or "complete").lower()
        return json_response(store.rest(contact_of(request), depth))

    def create(request: Request) -> Response:
        values = _values(sandbox, body(request), creating=True)
        _check_email(sandbox, values.get("C_EmailAddress"), None)
        contact = store.create(values)
        return json_response(store.rest(contact), 201)

    def replace(request: Request) -> Response:
        contact = contact_of(request)
        values = _values(sandbox, body(request), creating=False)
        _check_email(sandbox, values.get("C_EmailAddress"), contact.id)
        store.update(contact, values)
        return json_response(store.rest(contact))

    def delete(request: Request) -> Response:
        contact = contact_of(request)
        store.delete(contact)
        sandbox.lists.forget_contact(contact.id)
        return Response(200)

    def membership(request: Request) -> Response:
        contact = contact_of(request)
        return json_response([r.rest("minimal") for r in sandbox.lists.memberships(contact.id)])

    def fields(request: Request) -> Response:
        paging = rest_paging(request)
        found = filtered(list(store.fields.values()), parse_search(request.arg("search")),
                         lambda f, term: f.internal_name if term.lower() == "internalname" else
                         str(f.id) if term == "id" else f.name)
        return rest_list([f.rest(paging.depth) for f in paging.slice(found)], paging.page, len(found))

    def one_field(request: Request) -> Response:
        found = store.field_by_id(path_id(request))
        if found is None:
            raise not_found()
        return json_response(found.rest((request.arg("depth") or "complete").lower()))

    routes.add("GET", REST + r"/data/contacts", search)
    routes.add("POST", REST + r"/data/contact", create)
    routes.add("GET", REST + r"/data/contact/" + ID, read)
    routes.add("PUT", REST + r"/data/contact/" + ID, replace)
    routes.add("DELETE", REST + r"/data/contact/" + ID, delete)
    routes.add("GET", REST1 + r"/data/contact/" + ID + r"/membership", membership)
    routes.add("GET", REST + r"/assets/contact/fields", fields)
    routes.add("GET", REST + r"/assets/contact/field/" + ID, one_field)


def _values(sandbox: "EloquaSandbox", data: dict[str, Any], creating: bool) -> dict[str, Any]:
    """Internal name -> value from a REST body. A replace (PUT) blanks the standard properties
    it does not send; custom fields it does not send keep their values."""
    store = sandbox.contacts
    values: dict[str, Any] = {}
    for f in store.fields.values():
        if f.rest_name and not f.read_only:
            if f.rest_name in data:
                values[f.internal_name] = data[f.rest_name]
            elif not creating:
                values[f.internal_name] = None
    for item in data.get("fieldValues") or []:
        found = store.field_by_id(item.get("id", "")) if isinstance(item, dict) else None
        if found is None:
            wrong = item.get("id") if isinstance(item, dict) else item
            raise invalid(object_error("Contact", "fieldValues", "IdRequirement", wrong))
        if not found.read_only:
            values[found.internal_name] = item.get("value")
    return values


def _check_email(sandbox: "EloquaSandbox", email: Any, contact_id: int | None) -> None:
    if email in (None, ""):
        raise invalid(object_error("Contact", "emailAddress", "NotNullRequirement"))
    if not valid_email(str(email)):
        raise invalid(object_error("Contact", "emailAddress", "EmailAddressRequirement", email))
    if sandbox.contacts.email_taken(str(email), contact_id):
        raise invalid(object_error("Contact", "emailAddress", "UniquenessRequirement", email), status=409)
