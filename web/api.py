"""The JSON API: ``POST /api/v1/status-changes``, where the event platform sends status changes.

Authenticated by an account's ingestion token (``Authorization: Bearer cnk_…``), not a login, and
so exempt from CSRF (no cookie is involved). A batch is accepted event by event: the answer
lists each event as accepted, duplicate (its id was seen before) or rejected with reasons.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from connectors.ingest import MAX_EVENTS, ingest
from connectors.tokens import account_for_token

from .db import get_db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


@bp.post("/status-changes")
def status_changes():
    db = get_db()
    account = account_for_token(db, _bearer())
    if account is None:
        return jsonify(error="send an ingestion token: Authorization: Bearer <token>"), 401
    body = request.get_json(silent=True)
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        return jsonify(error='the body must be a JSON list of events, or {"events": [...]}'), 400
    if len(events) > MAX_EVENTS:
        return jsonify(error=f"at most {MAX_EVENTS} events per request; split the batch"), 413
    results = ingest(db, account, events)
    db.commit()
    counts = {k: sum(r.status == k for r in results) for k in ("accepted", "unchanged", "duplicate", "rejected")}
    return jsonify(**counts, results=[r.as_dict() for r in results])
