"""Marketo's response envelope as the real API writes it: HTTP 200, ``requestId``, ``success``,
string error codes, and ``nextPageToken`` only while more pages exist."""
from __future__ import annotations

import random
import threading
import time
from typing import Any

from connectors.sandbox import Response, json_response, text_response

MESSAGES = {
    "500": "Internal server error",
    "502": "Bad Gateway",
    "601": "Access token invalid",
    "602": "Access token expired",
    "603": "Access denied",
    "604": "Request time-out",
    "605": "Request method not supported",
    "606": "Max rate limit '100' exceeded with in '20' secs",
    "607": "Daily quota reached",
    "608": "API Temporarily Unavailable",
    "609": "Invalid JSON",
    "610": "Requested resource not found",
    "611": "System error",
    "612": "Invalid Content Type",
    "614": "Invalid Subscription",
    "615": "Concurrent access limit reached",
    "616": "Invalid subscription type",
    "713": "Transient Error",
    "1001": "Invalid value type",
    "1003": "Invalid data",
    "1004": "Lead not found",
    "1005": "Lead already exists",
    "1006": "Field not found",
    "1007": "Multiple lead match lookup criteria",
    "1011": "Field not supported",
    "1013": "Object not found",
    "1017": "Object already exists",
    "1026": "Custom object not enabled",
}

_HTML_ERRORS = {
    500: "500 Internal Server Error", 502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


class RequestIds:
    """``"<hex>#<hex>"`` like Marketo's (``e42b#14272d07d78``): a random part and the time in ms."""

    def __init__(self, seed: int | None = None):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def new(self) -> str:
        with self._lock:
            prefix = self._rng.getrandbits(16)
        return f"{prefix:x}#{int(time.time() * 1000):x}"


def ok(request_id: str, result: list[Any], next_page_token: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"requestId": request_id, "result": result, "success": True}
    if next_page_token:
        body["nextPageToken"] = next_page_token
    body.update(extra)
    return json_response(body)


def failure(request_id: str, code: str | int, message: str | None = None) -> Response:
    code = str(code)
    body = {"requestId": request_id, "success": False,
            "errors": [{"code": code, "message": message or MESSAGES.get(code, "Error")}]}
    return json_response(body, codes=(code,))


def html_error(status: int) -> Response:
    """What a gateway in front of Marketo answers on 5xx: an HTML page, not JSON."""
    title = _HTML_ERRORS.get(status, f"{status} Error")
    page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    return text_response(page, status, content_type="text/html", codes=(str(status),))


def truncated(response: Response) -> Response:
    """The same answer with its body cut in half, as when a connection dies mid-body behind a
    proxy that already sent the headers; the client sees a body that is not JSON."""
    cut = response.body[: len(response.body) // 2]
    return Response(response.status, dict(response.headers), cut, response.codes + ("truncated",), data=None)


def reason(code: str | int, message: str | None = None) -> dict[str, str]:
    """One entry of a skipped record's ``reasons``."""
    return {"code": str(code), "message": message or MESSAGES.get(str(code), "Error")}


def skipped(code: str | int, message: str | None = None, **extra: object) -> dict[str, object]:
    return {**extra, "status": "skipped", "reasons": [reason(code, message)]}


class ApiError(Exception):
    """Raised by a route handler to answer with a failed envelope."""

    def __init__(self, code: str | int, message: str | None = None):
        super().__init__(message or MESSAGES.get(str(code), "Error"))
        self.code = str(code)
        self.message = message
