"""The JSON API under ``/api/v1``: everything the admin pages do, for scripts.

Two kinds of bearer token. ``POST /status-changes`` takes an account's ingestion token
(``cnk_…``, ``connectors tokens create --account``): the event platform posting status changes.
Every other operation takes a user's API token (``cnu_…``, made on the API tokens page or with
``connectors tokens create --user``) and acts as that user: the same role rules and event
assignments as the pages (``access``), the same core functions. A session cookie never
authorises the API, so the API can be exempt from CSRF: without a token nothing happens (401).

Errors are ``{"errors": {field: [reasons]}}``: 400 unreadable, 401 no or bad token, 403 wrong
role, 404 not found (also another account's objects), 409 a state that forbids it, 422 invalid.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from connectors.ingest import IngestRequestRefused, ingest_and_commit, read_events
from connectors.tokens import account_for_token, user_for_token

from .api_schemas import IngestResult
from .api_support import GENERAL_FIELD, ApiError, error_response, general_field, operation
from .auth import LoginUser
from .db import get_db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Endpoints that check their own token (or none): the user-token check leaves them alone.
OWN_AUTH = frozenset({"api.status_changes"})
#: Readable with a user token or, in a browser, the admin's session (GET only: no CSRF concern).
DOCS = frozenset({"api.openapi", "api.docs"})
INGEST_PATH = "/api/v1/status-changes"
#: What the ingestion endpoint counts, in its answer's order.
INGEST_OUTCOMES = ("accepted", "unchanged", "stale", "duplicate", "rejected")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


@bp.before_app_request
def _authenticate_user_token():
    """Every ``/api/v1`` request but the ingestion endpoint acts as the user of its token.
    Runs before the admin's login check; the session is never consulted for the API."""
    if not request.path.startswith(bp.url_prefix + "/") or request.endpoint in OWN_AUTH \
            or request.path == INGEST_PATH:
        return None
    db = get_db()
    user = user_for_token(db, _bearer())
    if user is None:
        if request.endpoint in DOCS and _bearer() is None:
            return None  # the admin's login check decides (a signed-in browser may read the docs)
        return error_response(401, {"authorization": [
            "send a user API token: Authorization: Bearer cnu_… (API tokens page, or connectors tokens create --user)"]})
    db.commit()  # last_used_at
    g._login_user = LoginUser.of(user)  # Flask-Login's current_user for this request only; no session
    missed = request.routing_exception
    if isinstance(missed, HTTPException) and missed.code in (404, 405):
        return _http_error(missed)  # an unknown address or method of the API answers JSON too
    return None


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.messages)


def _http_error(exc: HTTPException):
    """``abort(404)`` from the shared look-ups (``access``) and friends, as JSON; a 405 keeps its
    ``Allow`` header. A 500 is the last resort (Flask logged the exception): each cause is a bug."""
    code = exc.code or 500
    response = error_response(code, {general_field(code): [exc.description or exc.name]})
    allowed = getattr(exc, "valid_methods", None)
    if code == 405 and allowed:
        response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


for _code in GENERAL_FIELD:  # by code: the admin's handlers are by code too, and Flask tries codes first
    bp.register_error_handler(_code, _http_error)


@bp.post("/status-changes")
@operation("Post status changes from the event platform", tag="status changes", roles="ingest",
           response=IngestResult, errors=(400, 401, 413),
           description='A JSON list of events, or `{"events": [...]}`; each is accepted, unchanged, stale '
                       "(older than the last change applied), duplicate (its id was seen before in this "
                       "account) or rejected with reasons. See docs/events.md.")
def status_changes():
    db = get_db()
    account = account_for_token(db, _bearer())
    if account is None:
        return error_response(401, {"authorization": ["send an ingestion token: Authorization: Bearer <token>"]})
    if not request.is_json:
        return error_response(400, {"body": ['send JSON (Content-Type: application/json): a list of events, '
                                             'or {"events": [...]}']})
    try:
        events = read_events(request.get_data(cache=False))
    except IngestRequestRefused as exc:
        return error_response(exc.status, {"body": [exc.reason]})
    results = ingest_and_commit(db, account, events)
    counts = {k: sum(r.status == k for r in results) for k in INGEST_OUTCOMES}
    return jsonify(**counts, results=[r.as_dict() for r in results])

from . import api_docs, api_jobs, api_plugins, api_problems, api_records, api_registrations  # noqa: E402,F401  (their routes join bp)
