"""Logging in and out, and the role checks every other blueprint relies on."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import InputRequired, Length

from connectors.accounts import check_password, hash_password
from connectors.login_sessions import end_session, live_session, mark_seen, seen_is_due, start_session
from connectors.login_throttle import Lock, clear_failures, lock_for, record_failure
from connectors.models import User, utcnow

from .db import get_db

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class LoginUser(UserMixin):
    """What Flask-Login keeps for a request: plain values, so no ORM object outlives its session."""

    id: int
    account_id: int
    login: str
    name: str
    role: str

    @property
    def is_administrator(self) -> bool:
        return self.role == "administrator"

    @classmethod
    def of(cls, user: User) -> "LoginUser":
        return cls(user.id, user.account_id, user.login, user.name, user.role)


#: The Flask session key holding the server-side session's key (``connectors.login_sessions``).
SESSION_KEY = "login_session"


def load_user(user_id: str) -> LoginUser | None:
    """Flask-Login's user loader: the cookie's user only while its server-side session is live
    (not logged out, not ended by a password change or deactivation, not idle too long)."""
    try:
        uid = int(user_id)
    except ValueError:
        return None
    db = get_db()
    found = live_session(db, session.get(SESSION_KEY), uid)
    if found is None:
        return None
    user, row = found
    if seen_is_due(row) and not (db.new or db.dirty or db.deleted):  # never commit a view's own writes
        mark_seen(db, row.id)
        db.commit()
    return LoginUser.of(user)


def admin_required(view):
    """Administrators only: event builders get 403 (ARCHITECTURE §8, certain.md §3.1)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_administrator:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


class LoginForm(FlaskForm):
    login = StringField("Login (e-mail)", validators=[InputRequired(), Length(max=200)],
                        render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=500)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Log in")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked when the login is unknown, so a wrong login takes as long as a wrong password."""
    return hash_password("not a real password")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: an absolute or scheme-relative ``next`` would be an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _locked_page(form: LoginForm, lock: Lock):
    minutes = max(1, -(-int(lock.wait.total_seconds()) // 60))
    who = "log-ins from your address" if lock.scope == "address" else "log-ins for this login from your address"
    form.password.errors = [f"Too many failed {who}. Try again in {minutes} minute{'s' if minutes != 1 else ''}."]
    response = make_response(render_template("auth/login.html", form=form), 429)
    response.headers["Retry-After"] = str(int(lock.wait.total_seconds()) + 1)
    return response


def _sign_in(db, user: User):
    """A fresh cookie (nothing from before carries over) bound to a new server-side session."""
    clear_failures(db, user.login, request.remote_addr or "unknown")
    key = start_session(db, user.id)
    db.commit()
    session.clear()
    login_user(LoginUser.of(user))
    session[SESSION_KEY] = key
    return redirect(_safe_next(request.args.get("next")) or url_for("connectors.home"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("connectors.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.errors else 200
    db, login_name, ip = get_db(), form.login.data.strip(), request.remote_addr or "unknown"
    lock = lock_for(db, login_name, ip, utcnow())
    if lock is not None:  # a refused attempt checks no password: guessing gets nothing while locked
        return _locked_page(form, lock)
    user = db.scalar(select(User).where(User.login == login_name))
    ok = check_password(user.password_hash if user else _dummy_hash(), form.password.data)
    if user is not None and ok and user.is_active:
        return _sign_in(db, user)
    record_failure(db, login_name, ip, utcnow())
    db.commit()
    lock = lock_for(db, login_name, ip, utcnow())
    if lock is not None:
        return _locked_page(form, lock)
    form.password.errors = ["Invalid login or password. Check both and try again (the login is your "
                            "e-mail address); after several failed tries, log-ins pause for a few minutes."]
    return render_template("auth/login.html", form=form), 401


@bp.post("/logout")
def logout():
    """Ends the session on the server too: a copy of the cookie replayed later is signed out."""
    db = get_db()
    if end_session(db, session.get(SESSION_KEY)):
        db.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
