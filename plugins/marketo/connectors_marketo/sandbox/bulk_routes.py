"""Bulk Lead Extract endpoints (spec §4.1): create, enqueue, status, list, file, cancel.

Requests are checked the way Marketo checks them (1003 invalid fields / filter / range, 1035
unsupported filter, 1029 queue and quota); the file endpoint answers like Marketo's, not like
the rest of the API: plain-text 404 while there is no file, ``Range`` -> 206.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response, text_response

from .bulk import (
    CANCELLED, DELIMITERS, BulkExports, EnqueueRefused, ExportJob, stamp,
)
from .envelope import ApiError
from .params import batch_size, csv_values
from .store import BadPageToken, decode_page_token, encode_page_token

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox

PREFIX = r"/bulk/v1/leads/export"
JOB = PREFIX + r"/(?P<id>[^/]+)"
DATE_FILTERS = ("createdAt", "updatedAt")
FILTERS = (*DATE_FILTERS, "staticListId", "staticListName", "smartListId", "smartListName")
MAX_RANGE = timedelta(days=31).total_seconds()
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def register(sandbox: "MarketoSandbox", **options: Any) -> BulkExports:
    """Mount the endpoints and make the engine ``sandbox.bulk``. ``options`` go to ``BulkExports``."""
    bulk = BulkExports(sandbox, **options)
    sandbox.bulk = bulk
    # the journal keeps only the headers it is told about; tests assert resumed downloads
    sandbox.journal_headers = (*sandbox.journal_headers, "Range")

    def job_of(request: Request) -> ExportJob:
        job = bulk.get(request.path_params["id"])
        if job is None:
            raise ApiError("1003", "Export job not found")
        return job

    def create(request: Request) -> Response:
        fields, headers, fmt, kind, value = _definition(request, sandbox, bulk)
        if bulk.quota_exceeded():
            raise ApiError("1029", f"Export daily quota {bulk.daily_quota_mb:g}MB exceeded")
        return sandbox.ok([_created(bulk.create(fields, headers, fmt, kind, value).record())])

    def enqueue(request: Request) -> Response:
        job = job_of(request)
        try:
            bulk.enqueue(job)
        except EnqueueRefused as exc:
            raise ApiError("1029", str(exc)) from None
        except ValueError as exc:
            raise ApiError("1003", str(exc)) from None
        return sandbox.ok([job.record()])

    def status(request: Request) -> Response:
        job = job_of(request)
        record = job.record()
        bulk.polled(job)
        return sandbox.ok([record])

    def cancel(request: Request) -> Response:
        job = job_of(request)
        try:
            bulk.cancel(job)
        except ValueError as exc:
            raise ApiError("1003", str(exc)) from None
        return sandbox.ok([job.record()])

    def listing(request: Request) -> Response:
        wanted = csv_values(request, "status")
        statuses = {CANCELLED if s in ("Canceled", "Cancelled") else s for s in wanted} if wanted else None
        jobs = bulk.listed(statuses)
        scope = "bulk-exports:" + ",".join(sorted(statuses or ()))
        try:
            start = decode_page_token(request.arg("nextPageToken"), scope) or 0
        except BadPageToken:
            raise ApiError("1003", "Invalid nextPageToken") from None
        size = batch_size(request)
        page = jobs[start:start + size]
        token = encode_page_token(scope, start + size) if start + size < len(jobs) else None
        return sandbox.ok([job.record() for job in page], token)

    def file(request: Request) -> Response:
        with bulk.lock:
            job = bulk.get(request.path_params["id"])
            view = job.view() if job is not None else None
            if view is None:
                return text_response("Export file not found", 404)
            return _serve(job, view, request.header("Range"))

    sandbox.routes.add("POST", PREFIX + r"/create\.json", create)
    sandbox.routes.add("POST", JOB + r"/enqueue\.json", enqueue)
    sandbox.routes.add("GET", JOB + r"/status\.json", status)
    sandbox.routes.add("POST", JOB + r"/cancel\.json", cancel)
    sandbox.routes.add("GET", JOB + r"/file\.json", file)
    sandbox.routes.add("GET", PREFIX + r"\.json", listing)
    return bulk


def _created(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("exportId", "format", "status", "createdAt")}


# -- the create request ----------------------------------------------------------------------
def _definition(request: Request, sandbox: "MarketoSandbox", bulk: BulkExports) -> tuple:
    """(fields, column headers, format, filter type, filter value) of a valid create request."""
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError("609", "Invalid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("609", "Invalid JSON")
    fields = body.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
        raise ApiError("1003", "fields is required")
    unknown = sandbox.store.unknown_fields(fields)
    if unknown:
        raise ApiError("1003", f"Invalid fields [{', '.join(unknown)}]")
    fmt = str(body.get("format") or "CSV").upper()
    if fmt not in DELIMITERS:
        raise ApiError("1003", f"Invalid format '{body.get('format')}'")
    names = body.get("columnHeaderNames") or {}
    if not isinstance(names, dict) or any(k not in fields or not isinstance(v, str) for k, v in names.items()):
        raise ApiError("1003", "Invalid columnHeaderNames")
    kind, value = _filter(body.get("filter"), sandbox, bulk)
    return fields, [names.get(f, f) for f in fields], fmt, kind, value


def _filter(spec: Any, sandbox: "MarketoSandbox", bulk: BulkExports) -> tuple[str, Any]:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ApiError("1003", "Exactly one filter type is required")
    (kind, value), = spec.items()
    if kind not in FILTERS:
        raise ApiError("1003", f"Invalid filter type '{kind}'")
    if kind in bulk.faults.unsupported:
        raise ApiError("1035", "Unsupported filter type for target subscription")
    if kind in DATE_FILTERS:
        try:
            low, high = stamp(value["startAt"]), stamp(value["endAt"])
        except (TypeError, KeyError, ValueError, AttributeError):
            raise ApiError("1003", f"Invalid {kind} filter: startAt and endAt must be ISO-8601 datetimes") from None
        if high < low or high - low > MAX_RANGE:
            raise ApiError("1003", f"Invalid {kind} filter: the date range must be 31 days or fewer")
        return kind, (low, high)
    store = sandbox.store
    if kind == "staticListId":
        if not str(value).isdigit() or int(value) not in store.lists:
            raise ApiError("1013", "Static list not found")
        return kind, int(value)
    if kind == "staticListName":
        found = store.find_lists(names={str(value)})
        if not found:
            raise ApiError("1013", "Static list not found")
        return kind, found[0]["id"]
    smart = [s.id for s in bulk.smart_lists.values()
             if (kind == "smartListId" and str(s.id) == str(value)) or (kind == "smartListName" and s.name == value)]
    if not smart:
        raise ApiError("1013", "Smart list not found")
    return kind, smart[0]


# -- the file ----------------------------------------------------------------------------------
def _serve(job: ExportJob, view: memoryview, range_header: str | None) -> Response:
    """The file, or the asked ``Range`` of it (206), with the job's file faults applied."""
    faults, size = job.faults, len(view)
    if faults.file_missing > 0:
        faults.file_missing -= 1
        return text_response("Export file not found", 404)
    if faults.drop > 0:
        faults.drop -= 1
        return Response.aborted()
    start, end = 0, size - 1
    found = _RANGE.fullmatch((range_header or "").strip())
    partial = bool(found and (found.group(1) or found.group(2)))
    if partial:
        first, last = found.group(1), found.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # "bytes=-N": the last N bytes
            start = max(0, size - int(last))
        if start >= size or start > end:
            return text_response("Requested range not satisfiable", 416, headers={"Content-Range": f"bytes */{size}"})
    body: Any = view[start:end + 1]
    if faults.truncate > 0:
        faults.truncate -= 1
        body = body[:max(1, len(body) // 2)]
        end = start + len(body) - 1
    if faults.corrupt > 0:
        faults.corrupt -= 1
        body = bytes(body[:-1]) + bytes([body[-1] ^ 0x01])
    headers = {"Content-Type": "text/csv; charset=utf-8", "Accept-Ranges": "bytes"}
    if partial:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(206 if partial else 200, headers, body, data={"bytes": len(body), "range": range_header})
