"""Bulk definition endpoints (spec §3.1-§3.3, §7.3): create, list, read, replace and delete
imports, exports and sync actions of contacts, custom objects and activities, and stage data.

Uploads are a JSON array of objects or CSV with a header row. Over 32 MB a POST answers
404 (as Eloqua's gateway does), the 501st file of a pending sync 400, a full staging area 413
(ELQ-00136). A definition with ``isSyncTriggeredOnImport`` starts its sync on upload (201)."""
from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response, Routes, json_response

from . import statements as st
from .bulk_defs import EXPORTS, IMPORTS, SYNC_ACTIONS, Definition, build
from .bulk_meta_routes import BULK
from .bulk_sync import SyncConflict
from .params import bulk_q, bulk_window, filtered
from .responses import bulk_invalid, bulk_page, failure, not_found, plain
from .sync_routes import data_page

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

OWNER = r"(?P<owner>contacts|activities|customObjects/(?P<pid>\d+))"
KIND = r"(?P<kind>imports|exports|syncActions)"
ALLOWED = {(st.CONTACTS, IMPORTS), (st.CONTACTS, EXPORTS), (st.CONTACTS, SYNC_ACTIONS), (st.CUSTOM_OBJECTS, IMPORTS),
           (st.CUSTOM_OBJECTS, EXPORTS), (st.ACTIVITIES, IMPORTS), (st.ACTIVITIES, EXPORTS)}


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    engine = sandbox.bulk

    def scope(request: Request) -> tuple[str, str, int | None]:
        owner, kind = request.path_params["owner"], request.path_params["kind"]
        entity = st.CUSTOM_OBJECTS if owner.lower().startswith("customobjects") else owner.lower()
        kind = {"imports": IMPORTS, "exports": EXPORTS, "syncactions": SYNC_ACTIONS}[kind.lower()]
        parent = int(request.path_params["pid"]) if request.path_params.get("pid") else None
        if (entity, kind) not in ALLOWED:
            raise not_found()
        if parent is not None and parent not in sandbox.custom_objects.objects:
            raise not_found()
        return entity, kind, parent

    def definition_of(request: Request) -> Definition:
        entity, kind, parent = scope(request)
        found = engine.definition(kind, entity, parent, int(request.path_params["id"]))
        if found is None:
            raise not_found()
        return found

    def create(request: Request) -> Response:
        entity, kind, parent = scope(request)
        definition = build(sandbox, kind, entity, parent, _json(request), engine.next_definition_id())
        return json_response(engine.add_definition(definition).record(), 201)

    def listing(request: Request) -> Response:
        entity, kind, parent = scope(request)
        limit, offset = bulk_window(request)
        found = filtered([d for d in engine.definitions.values()
                          if not d.deleted and (d.entity, d.kind, d.parent) == (entity, kind, parent)],
                         bulk_q(request), lambda d, term: str(d.body.get(term, "")))
        return bulk_page([d.record() for d in found[offset:offset + limit]], len(found), limit, offset)

    def read(request: Request) -> Response:
        return json_response(definition_of(request).record())

    def replace(request: Request) -> Response:
        old = definition_of(request)
        new = build(sandbox, old.kind, old.entity, old.parent, _json(request), old.id)
        new.created_at, new.created_by = old.created_at, old.created_by
        new.staged, new.staged_bytes = old.staged, old.staged_bytes
        engine.definitions[old.id] = new
        return json_response(new.record())

    def delete(request: Request) -> Response:
        engine.delete_definition(definition_of(request))
        return Response(204)

    def upload(request: Request) -> Response:
        definition = definition_of(request)
        if definition.kind == EXPORTS:
            raise bulk_invalid(failure("data", "Exports take no data; start a sync instead."))
        size = len(request.body)
        if size > engine.max_upload_bytes:
            return plain(404, codes=("too-large",))
        if len(definition.staged) >= engine.max_files_per_sync:
            raise bulk_invalid(failure("data", "There was a validation error: too many files for one sync.",
                                       len(definition.staged) + 1))
        if engine.staged_bytes() + size > engine.staging_quota:
            return plain(413, "Storage space exceeded.", codes=("413", "ELQ-00136"))
        rows = _rows(request)
        definition.staged.append(rows)
        definition.staged_bytes += size
        if definition.body.get("isSyncTriggeredOnImport"):
            try:
                sync = engine.start(definition)
            except SyncConflict as exc:
                raise bulk_invalid(failure("syncedInstanceUri", str(exc), definition.uri), status=409) from None
            return json_response(sync.record(), 201)
        return Response(204)

    def clear(request: Request) -> Response:
        definition = definition_of(request)
        definition.staged.clear()
        definition.staged_bytes = 0
        return Response(204)

    def export_data(request: Request) -> Response:
        """A definition's own ``/data``: its latest finished sync's (prefer ``/syncs/{id}/data``)."""
        definition = definition_of(request)
        syncs = [s for s in engine.syncs.values() if s.definition is definition and s.export is not None]
        if definition.kind != EXPORTS or not syncs:
            raise not_found()
        return data_page(sandbox, request, syncs[-1])

    definitions = BULK + "/" + OWNER + "/" + KIND
    one = definitions + r"/(?P<id>\d+)"
    routes.add("POST", definitions, create)
    routes.add("GET", definitions, listing)
    routes.add("GET", one, read)
    routes.add("PUT", one, replace)
    routes.add("DELETE", one, delete)
    routes.add("POST", one + "/data", upload)
    routes.add("DELETE", one + "/data", clear)
    routes.add("GET", one + "/data", export_data)


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        raise bulk_invalid(failure("body", "Must be valid JSON.")) from None


def _rows(request: Request) -> list[dict[str, Any]]:
    if request.content_type == "text/csv":
        text = request.body.decode("utf-8-sig", errors="replace")
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    data = _json(request)
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise bulk_invalid(failure("data", "Must be a JSON array of objects."))
    return data

