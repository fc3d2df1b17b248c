"""The API tokens page: a signed-in user's own tokens for the JSON API — create one (shown
once, optionally with an expiry), see when each was last used, revoke. Administrators also
manage their account's ingestion tokens here (the event platform posting status changes).
A session page like the others (CSRF on its forms)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.models import Account, User
from connectors.tokens import (
    MAX_EXPIRY_DAYS, TokenError, account_tokens, create_token, create_user_token, expiry, revoke_account_token,
    revoke_user_token, token_state, user_tokens,
)

from .auth import admin_required
from .converters import id_from
from .db import get_db

bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")


def _page(code: int = 200, **extra):
    db = get_db()
    ingestion = account_tokens(db, current_user.account_id) if current_user.is_administrator else []
    return render_template("api/tokens.html", tokens=user_tokens(db, current_user.id), ingestion_tokens=ingestion,
                           state=token_state, max_days=MAX_EXPIRY_DAYS, **extra), code


def _expiry_from_form():
    return expiry(days=request.form.get("expires_in_days"), on=request.form.get("expires_on"))


@bp.get("/")
def tokens():
    return _page()


@bp.post("/")
def create():
    db = get_db()
    name = request.form.get("name", "")
    try:
        row, token = create_user_token(db, db.get(User, current_user.id), name, _expiry_from_form())
    except TokenError as exc:
        db.rollback()
        return _page(422, error=exc.reason, error_field=exc.field, name=name, error_kind="user")
    db.commit()
    return _page(200, new_token=token, new_name=row.name)


@bp.post("/revoke")
def revoke():
    """The token's id comes in the form: only the signed-in user's own tokens can be revoked."""
    return _revoke(lambda db, token_id: revoke_user_token(db, current_user.id, token_id),
                   "Token revoked: it no longer works.", "No such live token of yours.")


@bp.post("/ingestion")
@admin_required
def create_ingestion():
    """A new ingestion token of the administrator's own account, shown once."""
    db = get_db()
    name = request.form.get("name", "")
    try:
        row, token = create_token(db, db.get(Account, current_user.account_id), name, expires_at=_expiry_from_form())
    except TokenError as exc:
        db.rollback()
        return _page(422, error=exc.reason, error_field=exc.field, name=name, error_kind="ingestion")
    db.commit()
    return _page(200, new_token=token, new_name=row.name, new_kind="ingestion")


@bp.post("/ingestion/revoke")
@admin_required
def revoke_ingestion():
    """Only a token of the administrator's own account can be revoked (the id is checked against it)."""
    return _revoke(lambda db, token_id: revoke_account_token(db, current_user.account_id, token_id),
                   "Ingestion token revoked: the event platform can no longer post with it.",
                   "No such live ingestion token of your account.")


def _revoke(revoke_own, done: str, missing: str):
    """Revoke the form's ``token_id`` with ``revoke_own`` (which looks only among the caller's own
    tokens); an id no row can have (out of range, not a number) is simply not found."""
    db = get_db()
    token_id = id_from(request.form.get("token_id"))
    if token_id is not None and revoke_own(db, token_id):
        db.commit()
        flash(done, "success")
    else:
        flash(missing, "info")
    return redirect(url_for(".tokens"))
