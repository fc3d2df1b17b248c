"""Eloqua's answers as the real API writes them (spec §2.1, §3, §4): REST list envelopes,
validation errors as JSON arrays of typed requirements, Bulk ``failures``, and the plain-text
pages of the gateway (401, 404, 429, 5xx). Route handlers raise ``ApiError`` with one of them."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from connectors.sandbox import Response, json_response, text_response

REASONS = {
    400: "There was a validation error.",
    401: "Login required",
    403: "Forbidden",
    404: "Not Found",
    409: "There was a conflict.",
    410: "Gone",
    412: "Precondition Failed",
    413: "Storage space exceeded.",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "There was an internal server error.",
    502: "Bad Gateway",
    503: "There was a timeout processing the request",
    504: "Gateway Timeout",
}


class ApiError(Exception):
    """Raised by a handler: answer with ``response`` instead."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


# -- REST ----------------------------------------------------------------------------------------
def rest_list(elements: list[dict[str, Any]], page: int, total: int) -> Response:
    return json_response({"elements": elements, "page": page, "pageSize": len(elements), "total": total})


def object_error(object_type: str, prop: str, requirement: str, value: Any = None, **details: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "ObjectValidationError",
                             "container": {"type": "ObjectKey", "objectType": object_type},
                             "property": prop, "requirement": {"type": requirement, **details}}
    if value is not None:
        error["value"] = str(value)
    return error


def parameter_error(parameter: str, requirement: str, value: Any = None, **details: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "EndpointParameterError", "parameter": parameter,
                             "requirement": {"type": requirement, **details}}
    if value is not None:
        error["value"] = str(value)
    return error


def invalid(*errors: dict[str, Any], status: int = 400) -> ApiError:
    """400 (or 409 for uniqueness) with the errors as a JSON array, as Eloqua sends them."""
    codes = tuple(e["requirement"]["type"] for e in errors)
    return ApiError(json_response(list(errors), status, codes=codes))


def plain(status: int, text: str | None = None, headers: dict[str, str] | None = None,
          codes: Iterable[str] = ()) -> Response:
    return text_response(text or REASONS.get(status, "Error"), status, headers=headers,
                         codes=tuple(codes) or (str(status),))


def not_found() -> ApiError:
    return ApiError(plain(404))


def unauthorized(text: str = "Login required") -> Response:
    return plain(401, text, codes=("401",))


# -- Bulk ---------------------------------------------------------------------------------------
def failure(field: str, constraint: str, value: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"field": field, "constraint": constraint}
    if value is not None:
        found["value"] = value if isinstance(value, (str, int, float)) else str(value)
    return found


def bulk_invalid(*failures: dict[str, Any], status: int = 400) -> ApiError:
    """Bulk 2.0 validation answer: ``{"failures": [{field, constraint, value}]}``."""
    return ApiError(json_response({"failures": list(failures)}, status, codes=("failures",)))


def bulk_page(items: list[Any], total: int, limit: int, offset: int) -> Response:
    return json_response({"items": items, "totalResults": total, "limit": limit, "offset": offset,
                          "count": len(items), "hasMore": offset + len(items) < total})


def iso(moment: float) -> str:
    """Bulk timestamps: ISO 8601 in UTC with milliseconds."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
