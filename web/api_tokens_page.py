"""The API tokens page: a signed-in user's own tokens for the JSON API — create one (shown
once), see when each was last used, revoke. A session page like the others (CSRF on its forms)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from connectors.models import User
from connectors.tokens import TokenError, create_user_token, revoke_user_token, user_tokens

from .db import get_db

bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")


def _page(code: int = 200, **extra):
    return render_template("api/tokens.html", tokens=user_tokens(get_db(), current_user.id), **extra), code


@bp.get("/")
def tokens():
    return _page()


@bp.post("/")
def create():
    db = get_db()
    name = request.form.get("name", "")
    try:
        row, token = create_user_token(db, db.get(User, current_user.id), name)
    except TokenError as exc:
        db.rollback()
        return _page(422, error=exc.reason, name=name)
    db.commit()
    return _page(200, new_token=token, new_name=row.name)


@bp.post("/revoke")
def revoke():
    """The token's id comes in the form: only the signed-in user's own tokens can be revoked."""
    db = get_db()
    token_id = request.form.get("token_id", type=int)
    if token_id is not None and revoke_user_token(db, current_user.id, token_id):
        db.commit()
        flash("Token revoked: it no longer works.", "success")
    else:
        flash("No such live token of yours.", "info")
    return redirect(url_for(".tokens"))
