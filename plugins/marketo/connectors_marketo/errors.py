"""Marketo errors and how the client treats each code (spec §1.5).

Marketo answers almost everything with HTTP 200 and puts the verdict in the envelope, so the
classification is by code, never by HTTP reason phrase.
"""
from __future__ import annotations

#: access token invalid / expired: refresh the token and replay the request once
TOKEN_CODES = frozenset({"601", "602"})
#: transient: retry with exponential backoff and jitter
RETRYABLE_CODES = frozenset({"500", "502", "604", "606", "608", "611", "614", "615", "713"})
#: the budget is gone for now (daily quota, bulk queue/quota): stop and resume on a later run
QUOTA_CODES = frozenset({"607", "1029"})
RATE_LIMIT_CODE = "606"


class MarketoError(Exception):
    """A Marketo call failed for good. ``code`` is Marketo's code as a string ("1013"), or the
    HTTP status for failures outside the envelope ("414")."""

    def __init__(self, code: str, message: str, request_id: str | None = None):
        super().__init__(f"Marketo error {code}: {message}" + (f" (requestId {request_id})" if request_id else ""))
        self.code = str(code)
        self.message = message
        self.request_id = request_id


class MarketoQuotaExhausted(MarketoError):
    """Daily quota (607), bulk quota/queue (1029), or a rate limit (606) that outlasted the
    retries: a job should end as ``quota_exhausted`` and resume later, not fail."""


class MarketoAuthError(MarketoError):
    """The identity service refused the credentials (HTTP 401 ``invalid_client``)."""


class TransientError(Exception):
    """Internal signal: this attempt failed in a way worth retrying."""

    def __init__(self, code: str, message: str, request_id: str | None = None):
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.request_id = request_id


def classify(code: str) -> str:
    """'token', 'retry', 'quota' or 'fatal' for a Marketo response-level code."""
    code = str(code)
    if code in TOKEN_CODES:
        return "token"
    if code in RETRYABLE_CODES:
        return "retry"
    if code in QUOTA_CODES:
        return "quota"
    return "fatal"
