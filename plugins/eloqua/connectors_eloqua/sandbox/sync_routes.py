"""Sync endpoints (spec §3.1, §3.4, §3.5, §7.3): start a sync, poll it, read its logs, its
rejects and (exports) its data, paged with ``limit``/``offset``/``hasMore``.

Export data obeys Eloqua's rules: ``limit`` at most 50,000, only the user who ran the sync may
read it, and once the retention is over it answers 410 (or 404, ``bulk.expired_status``).
``Accept: text/csv`` gives the page as CSV."""
from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from connectors.sandbox import Request, Response, Routes, json_response, text_response

from .bulk_defs import EXPORTS
from .bulk_meta_routes import BULK
from .bulk_sync import FINAL, Sync, SyncConflict
from .params import MAX_BULK_LIMIT, bulk_q, bulk_window, filtered
from .responses import bulk_invalid, bulk_page, failure, not_found, plain

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

MAX_DATA_LIMIT = 50_000
_DEFINITION = r"/(?:contacts|activities|customObjects/\d+)/(?:imports|exports|syncActions)/(\d+)"


def register(sandbox: "EloquaSandbox", routes: Routes) -> None:
    engine = sandbox.bulk

    def sync_of(request: Request) -> Sync:
        raw = request.path_params["id"]
        found = engine.syncs.get(int(raw)) if raw.isdigit() else None
        if found is None:
            raise not_found()
        return found

    def start(request: Request) -> Response:
        try:
            data = request.json()
        except ValueError:
            raise bulk_invalid(failure("body", "Must be valid JSON.")) from None
        uri = str((data or {}).get("syncedInstanceUri") or "") if isinstance(data, dict) else ""
        definition = _definition(sandbox, uri)
        if definition is None:
            raise bulk_invalid(failure("syncedInstanceUri", "Must be a reference to an existing object.", uri))
        try:
            sync = engine.start(definition, data.get("callbackUrl"))
        except SyncConflict as exc:
            raise bulk_invalid(failure("syncedInstanceUri", f"There was a conflict: {exc}", uri), status=409) from None
        return json_response(sync.record(), 201)

    def listing(request: Request) -> Response:
        limit, offset = bulk_window(request)
        syncs = filtered(sorted(engine.syncs.values(), key=lambda s: s.id), bulk_q(request),
                         lambda s, term: s.definition.uri if term == "syncedInstanceUri" else s.status)
        return bulk_page([s.record() for s in syncs[offset:offset + limit]], len(syncs), limit, offset)

    def status(request: Request) -> Response:
        return json_response(engine.observe(sync_of(request)).record())

    def logs(request: Request) -> Response:
        sync = engine.observe(sync_of(request), poll=False)
        limit, offset = bulk_window(request)
        return bulk_page(sync.logs[offset:offset + limit], len(sync.logs), limit, offset)

    def rejects(request: Request) -> Response:
        sync = engine.observe(sync_of(request), poll=False)
        limit, offset = bulk_window(request, max_limit=MAX_BULK_LIMIT)
        return bulk_page(sync.rejects[offset:offset + limit], len(sync.rejects), limit, offset)

    def data(request: Request) -> Response:
        return data_page(sandbox, request, engine.observe(sync_of(request), poll=False))

    routes.add("POST", BULK + r"/syncs", start)
    routes.add("GET", BULK + r"/syncs", listing)
    routes.add("GET", BULK + r"/syncs/(?P<id>[^/]+)", status)
    routes.add("GET", BULK + r"/syncs/(?P<id>[^/]+)/logs", logs)
    routes.add("GET", BULK + r"/syncs/(?P<id>[^/]+)/rejects", rejects)
    routes.add("GET", BULK + r"/syncs/(?P<id>[^/]+)/data", data)


def data_page(sandbox: "EloquaSandbox", request: Request, sync: Sync) -> Response:
    engine = sandbox.bulk
    if sync.definition.kind != EXPORTS:
        raise bulk_invalid(failure("syncUri", "Only export syncs have data.", sync.uri))
    if sync.created_by != sandbox.current_username():
        return plain(403, "Forbidden: only the user who ran the export may read its data.")
    if sync.status not in FINAL:
        raise bulk_invalid(failure("syncUri", f"The sync is still {sync.status}.", sync.uri))
    if sync.export is None:
        return bulk_page([], 0, 1000, 0)
    if engine.expired(sync):
        return plain(engine.expired_status, codes=(str(engine.expired_status), "expired"))
    limit, offset = bulk_window(request, default_limit=1000, max_limit=MAX_DATA_LIMIT)
    total = len(sync.export)
    if sync.script.empty_pages > 0 and offset < total:
        sync.script.empty_pages -= 1
        return json_response({"items": [], "totalResults": total, "limit": limit, "offset": offset, "count": 0,
                              "hasMore": True}, codes=("empty-page",))
    items = sync.export[offset:offset + limit]
    if "text/csv" in (request.header("Accept") or ""):
        return _csv(items, list(sync.definition.statements))
    return bulk_page(items, total, limit, offset)


def _csv(items: list[dict], columns: list[str]) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(items)
    return text_response(out.getvalue(), content_type="text/csv; charset=utf-8")


def _definition(sandbox: "EloquaSandbox", uri: str):
    found = re.fullmatch(_DEFINITION, uri.strip(), re.IGNORECASE)
    if not found:
        return None
    definition = sandbox.bulk.definitions.get(int(found[1]))
    if definition is None or definition.deleted or definition.uri.lower() != uri.strip().lower():
        return None
    return definition
