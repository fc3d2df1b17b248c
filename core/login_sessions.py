"""Server-side log-in sessions: a signed cookie alone no longer keeps anyone signed in.

Flask's session is a signed cookie held by the browser, so logging out used to only ask the
browser to forget it: a copy replayed later still worked. Now logging in makes a ``LoginSession``
row and puts its random key in the cookie; each request checks that row (one indexed select), and
logging out, a password change or a deactivation ends it on the server. A password change and a
deactivation end *every* session of the user — whoever else held a cookie is out — and a
deactivation also revokes the user's API tokens.

Anything that changes a password or deactivates a user must go through ``change_password`` /
``deactivate_user`` (or call ``end_user_sessions`` itself).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .accounts import hash_password
from .models import LoginSession, User, UserApiToken, utcnow

#: A session unused for this long is over (a forgotten browser does not stay signed in for ever).
IDLE_LIMIT = timedelta(days=14)
#: ``last_seen_at`` is written at most this often: a page view must not be a write every time.
SEEN_RESOLUTION = timedelta(minutes=1)
#: Ended and idle rows are deleted once they are this old (they only say when a session stopped).
KEEP_ENDED = timedelta(days=30)
MIN_PASSWORD = 8


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(session: Session, user_id: int, now: datetime | None = None) -> str:
    """A new live session for ``user_id``; the returned key goes in the cookie, never in the table."""
    now = now or utcnow()
    session.execute(delete(LoginSession).where(or_(LoginSession.ended_at < now - KEEP_ENDED,
                                                   LoginSession.last_seen_at < now - IDLE_LIMIT - KEEP_ENDED)))
    key = secrets.token_urlsafe(32)
    session.add(LoginSession(key_hash=_digest(key), user_id=user_id, created_at=now, last_seen_at=now))
    session.flush()
    return key


def live_session(session: Session, key: str | None, user_id: int,
                 now: datetime | None = None) -> tuple[User, LoginSession] | None:
    """The active user and live session row the cookie's ``key`` stands for, else None: unknown,
    ended, idle too long, of another user, or the user is inactive. Reads only."""
    if not key:
        return None
    now = now or utcnow()
    found = session.execute(
        select(User, LoginSession).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.key_hash == _digest(key), LoginSession.ended_at.is_(None), User.id == user_id)).first()
    if found is None:
        return None
    user, row = found
    if not user.is_active or row.last_seen_at <= now - IDLE_LIMIT:
        return None
    return user, row


def seen_is_due(row: LoginSession, now: datetime | None = None) -> bool:
    """Whether this request should record the session's use (at most once a ``SEEN_RESOLUTION``)."""
    return (now or utcnow()) - row.last_seen_at >= SEEN_RESOLUTION


def mark_seen(session: Session, session_id: int, now: datetime | None = None) -> None:
    session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
                    .values(last_seen_at=now or utcnow()))


def end_session(session: Session, key: str | None, reason: str = "logout", now: datetime | None = None) -> bool:
    """End the session the cookie's ``key`` stands for; False if it was not live."""
    if not key:
        return False
    result = session.execute(update(LoginSession).where(LoginSession.key_hash == _digest(key),
                                                        LoginSession.ended_at.is_(None))
                             .values(ended_at=now or utcnow(), end_reason=reason))
    return bool(result.rowcount)


def end_user_sessions(session: Session, user_id: int, reason: str, now: datetime | None = None) -> int:
    """End every live session of the user (how many were live)."""
    result = session.execute(update(LoginSession).where(LoginSession.user_id == user_id,
                                                        LoginSession.ended_at.is_(None))
                             .values(ended_at=now or utcnow(), end_reason=reason))
    return result.rowcount or 0


def user_sessions(session: Session, user_id: int) -> list[LoginSession]:
    """The user's live sessions, most recently used first."""
    return list(session.scalars(select(LoginSession).where(LoginSession.user_id == user_id,
                                                           LoginSession.ended_at.is_(None))
                                .order_by(LoginSession.last_seen_at.desc())))


def change_password(session: Session, user: User, password: str) -> int:
    """Set a new password and end every session of the user (how many ended): whoever held a
    cookie from before — the user elsewhere, or whoever learnt the old password — signs in again."""
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    user.password_hash = hash_password(password)
    session.flush()
    return end_user_sessions(session, user.id, "password_changed")


def deactivate_user(session: Session, user: User) -> int:
    """Deactivate the user: every session ends and every API token is revoked, at once (how many
    sessions ended). Reactivating brings neither back: the user signs in and makes tokens anew."""
    user.is_active = False
    session.execute(update(UserApiToken).where(UserApiToken.user_id == user.id, UserApiToken.revoked.is_(False))
                    .values(revoked=True))
    session.flush()
    return end_user_sessions(session, user.id, "deactivated")
