"""Reading Marketo's query parameters: comma-separated or repeated values, batch sizes, fields."""
from __future__ import annotations

from connectors.sandbox import Request

from .envelope import ApiError
from .store import DEFAULT_FIELDS, BadPageToken, LeadStore, decode_page_token

MAX_BATCH = 300


def csv_values(request: Request, name: str) -> list[str] | None:
    """``?id=1,2&id=3`` -> ["1", "2", "3"]; None when the parameter is absent."""
    if name not in request.query:
        return None
    return [part.strip() for value in request.query[name] for part in value.split(",") if part.strip()]


def batch_size(request: Request) -> int:
    raw = request.arg("batchSize")
    if raw is None or raw == "":
        return MAX_BATCH
    try:
        size = int(raw)
    except ValueError:
        raise ApiError("1003", f"Invalid batchSize '{raw}'") from None
    if not 1 <= size <= MAX_BATCH:
        raise ApiError("1003", f"batchSize must be between 1 and {MAX_BATCH}")
    return size


def lead_fields(request: Request, store: LeadStore) -> list[str]:
    names = csv_values(request, "fields") or list(DEFAULT_FIELDS)
    unknown = store.unknown_fields(names)
    if unknown:
        raise ApiError("1006", f"Field '{unknown[0]}' not found")
    return names


def after_id(request: Request, scope: str) -> int | None:
    try:
        return decode_page_token(request.arg("nextPageToken"), scope)
    except BadPageToken:
        raise ApiError("1003", "Invalid nextPageToken") from None
