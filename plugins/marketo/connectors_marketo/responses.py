"""Reading Marketo's answers: the envelope (spec §1.3) and per-record statuses."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import requests

from .errors import MarketoError, MarketoQuotaExhausted, TokenRejected, TransientError, classify


@dataclass(frozen=True)
class MarketoResponse:
    """A successful envelope, with Marketo's optional keys defaulted."""

    request_id: str | None
    result: list[Any]
    next_page_token: str | None = None
    more_result: bool = False
    warnings: list[Any] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of records and the token for the next one (None on the last page): a caller
    saves the token as its checkpoint and passes it back to resume."""

    records: list[dict[str, Any]]
    next_page_token: str | None


def parse_envelope(body: dict[str, Any]) -> MarketoResponse:
    """The response of a successful envelope; raises the error class its code calls for."""
    request_id = body.get("requestId")
    if body.get("success"):
        return MarketoResponse(
            request_id=request_id, result=body.get("result", []) or [], next_page_token=body.get("nextPageToken") or None,
            more_result=bool(body.get("moreResult", False)), warnings=body.get("warnings", []) or [], raw=body,
        )
    errors = body.get("errors", []) or [{}]
    code = str(errors[0].get("code", "unknown"))
    message = str(errors[0].get("message", "request failed"))
    kind = classify(code)
    if kind == "token":
        raise TokenRejected(code, message, request_id)
    if kind == "retry":
        raise TransientError(code, message, request_id)
    if kind == "quota":
        raise MarketoQuotaExhausted(code, message, request_id)
    raise MarketoError(code, message, request_id)


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def reasons(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reasons of a skipped record: ``reasons`` for leads and custom objects, ``errors`` for
    custom activities (both appear in Adobe's examples)."""
    return list(record.get("reasons") or record.get("errors") or [])
