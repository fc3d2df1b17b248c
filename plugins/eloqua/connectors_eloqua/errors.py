"""What can go wrong talking to Eloqua, as exceptions a job can act on (spec §4).

Eloqua says what happened with HTTP statuses (not an envelope, unlike Marketo): 401 is about
credentials or the pod, 400/409 carry typed validation errors (REST: a JSON array of
``{type, property, requirement}``; Bulk: ``{"failures": [...]}``), 429 and 5xx are transient.
A create that failed after it may have reached Eloqua is ``EloquaAmbiguousError``: never sent
again without first checking whether it happened.
"""
from __future__ import annotations

from typing import Any


class EloquaError(Exception):
    def __init__(self, message: str, *, status: int | None = None, body: Any = None, url: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.url = url


class EloquaAuthError(EloquaError):
    """The credentials are refused (bad password, disabled user, blocked IP, refresh token used or
    expired): a person must fix the connection or authorise the app again."""


class EloquaPermissionError(EloquaError):
    """The credentials are good but the user may not do this (401 "not authorized" / 403)."""


class EloquaValidationError(EloquaError):
    """400: ``errors`` are Eloqua's typed errors (REST requirements or Bulk failures)."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        body = self.body
        if isinstance(body, dict) and isinstance(body.get("failures"), list):
            return body["failures"]
        if isinstance(body, list):
            return [e for e in body if isinstance(e, dict)]
        return [body] if isinstance(body, dict) else []

    @property
    def requirements(self) -> list[str]:
        """Requirement types (``UniquenessRequirement`` …) of REST errors."""
        return [e.get("requirement", {}).get("type", "") for e in self.errors if isinstance(e.get("requirement"), dict)]


class EloquaConflict(EloquaValidationError):
    """409: e.g. a contact with that email exists, or a sync is already running on a definition."""


class EloquaNotFound(EloquaError):
    """404 (also what Eloqua answers to an upload over 32 MB)."""


class EloquaTransientError(EloquaError):
    """429 / 5xx / no answer, still failing after the retries."""


class EloquaRateLimited(EloquaTransientError):
    """429 that outlasted the retries: slow down and resume later."""


class EloquaAmbiguousError(EloquaError):
    """A call that must not run twice failed in a way that leaves open whether Eloqua carried
    it out (a timeout, a reset connection or a 5xx after the request was sent)."""


class TokenPersistError(EloquaError):
    """The rotated refresh token could not be saved; the new access token was not used, and the
    client tries to save again before anything else."""


class BulkSyncError(EloquaError):
    """A sync ended ``error``; ``sync`` is its record and ``logs`` its log items."""

    def __init__(self, message: str, *, sync: dict[str, Any], logs: list[dict[str, Any]]):
        super().__init__(message)
        self.sync = sync
        self.logs = logs

    @property
    def codes(self) -> list[str]:
        return [item.get("statusCode", "") for item in self.logs]


class BulkSyncTimeout(EloquaError):
    """A sync did not finish before the deadline; ``sync_uri`` lets a later run resume polling."""

    def __init__(self, message: str, *, sync_uri: str, status: str):
        super().__init__(message)
        self.sync_uri = sync_uri
        self.sync_status = status


class ExportExpired(EloquaError):
    """An export's data is gone (404/410 past its retention): start a new export."""


class UploadTooLarge(EloquaError):
    """One row alone is over the upload size limit, or the data needs more files than a sync takes."""
