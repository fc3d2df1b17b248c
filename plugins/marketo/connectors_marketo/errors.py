"""Marketo errors and how the client treats each code (spec §1.5).

Marketo answers almost everything with HTTP 200 and puts the verdict in the envelope, so the
classification is by code, never by HTTP reason phrase.
"""
from __future__ import annotations

#: access token invalid / expired: refresh the token and replay the request once
TOKEN_CODES = frozenset({"601", "602"})
#: transient: retry with exponential backoff and jitter ("connection" and "invalid-body" are
#: ours: no answer, or an answer that is not a JSON envelope, e.g. a gateway's HTML page)
RETRYABLE_CODES = frozenset({"500", "502", "604", "606", "608", "611", "614", "615", "713"})
#: the budget is gone for now (daily quota, bulk queue/quota): stop and resume on a later run
QUOTA_CODES = frozenset({"607", "1029"})
RATE_LIMIT_CODE = "606"
DAILY_QUOTA_CODE = "607"
#: "system error (unhandled)": worth a few tries only, it rarely heals
SYSTEM_ERROR_CODE = "611"
#: our code when the client-side daily budget (not Marketo) stops a call
BUDGET_CODE = "daily-budget"
#: failures after which a request may or may not have been carried out (6xx envelope codes say
#: "not executed"; these do not): a request that must not run twice is not replayed on them
MAYBE_EXECUTED_CODES = frozenset({"500", "502", "713", "invalid-body", "connection"})


class MarketoError(Exception):
    """A Marketo call failed for good. ``code`` is Marketo's code as a string ("1013"), or the
    HTTP status for failures outside the envelope ("414")."""

    def __init__(self, code: str, message: str, request_id: str | None = None):
        super().__init__(f"Marketo error {code}: {message}" + (f" (requestId {request_id})" if request_id else ""))
        self.code = str(code)
        self.message = message
        self.request_id = request_id


class MarketoQuotaExhausted(MarketoError):
    """Daily quota (607), our own daily budget, bulk quota/queue (1029), or a rate limit (606)
    that outlasted the retries: a job should end as ``quota_exhausted`` and resume later."""


class MarketoAuthError(MarketoError):
    """The identity service refused the credentials (HTTP 401 ``invalid_client``)."""


class TokenRejected(MarketoError):
    """Internal signal, 601/602: refresh the token and replay once, else give up with this."""


class TransientError(Exception):
    """Internal signal: this attempt failed in a way worth retrying. ``http_status`` is set
    when the failure was an HTTP status outside the envelope (e.g. a gateway's 503)."""

    def __init__(self, code: str, message: str, request_id: str | None = None, *, sent: bool = True):
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.request_id = request_id
        self.sent = sent  # False when the request surely never reached Marketo

    @property
    def maybe_executed(self) -> bool:
        return self.sent and (self.code in MAYBE_EXECUTED_CODES or self.code.startswith("5"))


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
