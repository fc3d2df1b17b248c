"""Creating and checking API tokens; the database keeps only a SHA-256 of each.

Two kinds: an account's ingestion token (``cnk_…``, the event platform posting status changes)
and a user's API token (``cnu_…``, a person or script acting as that user on ``/api/v1``).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Account, ApiToken, User, utcnow
from .models.tokens import UserApiToken

PREFIX = "cnk_"
USER_PREFIX = "cnu_"
MAX_NAME = 200
#: A user token's last use is written at most this often: a script polling a run must not make
#: every read a write (on SQLite it would queue behind the worker's transactions).
LAST_USED_RESOLUTION = timedelta(minutes=5)


class TokenError(ValueError):
    """A token that cannot be made; ``field`` and ``reason`` say why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, account: Account, name: str, scope: str = "ingest") -> tuple[ApiToken, str]:
    """A new token; the returned string is the only time it is ever seen."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(account_id=account.id, name=name, scope=scope, prefix=token[:12], token_hash=_digest(token))
    session.add(row)
    session.flush()
    return row, token


def account_for_token(session: Session, token: str | None, scope: str = "ingest") -> Account | None:
    """The account a live token of this scope belongs to (and note its use), else None."""
    if not token or not token.startswith(PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.scope == scope,
                                                ApiToken.revoked.is_(False)))
    if row is None:
        return None
    row.last_used_at = utcnow()
    return session.get(Account, row.account_id)


def create_user_token(session: Session, user: User, name: str) -> tuple[UserApiToken, str]:
    """A new API token acting as ``user``; the returned string is the only time it is seen."""
    name = (name or "").strip()
    if not name:
        raise TokenError("name", "give the token a name that says where it is used")
    if len(name) > MAX_NAME:
        raise TokenError("name", f"at most {MAX_NAME} characters")
    if not user.is_active:
        raise TokenError("user", f"{user.login} is not active")
    token = USER_PREFIX + secrets.token_urlsafe(32)
    row = UserApiToken(user_id=user.id, name=name, prefix=token[:12], token_hash=_digest(token))
    session.add(row)
    session.flush()
    return row, token


def create_token_for_login(session: Session, login: str, name: str) -> tuple[UserApiToken, str]:
    """``connectors tokens create --user EMAIL``: a token for the user with that login."""
    user = session.scalar(select(User).where(User.login == login.strip()))
    if user is None:
        raise TokenError("user", f"no user {login!r}")
    return create_user_token(session, user, name)


def user_for_token(session: Session, token: str | None) -> User | None:
    """The active user a live user token belongs to (and note its use), else None."""
    if not token or not token.startswith(USER_PREFIX):
        return None
    row = session.scalar(select(UserApiToken).where(UserApiToken.token_hash == _digest(token),
                                                    UserApiToken.revoked.is_(False)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return user


def user_tokens(session: Session, user_id: int) -> list[UserApiToken]:
    """A user's tokens, newest first (revoked ones too: they say when a token stopped working)."""
    return list(session.scalars(select(UserApiToken).where(UserApiToken.user_id == user_id)
                                .order_by(UserApiToken.id.desc())))


def revoke_user_token(session: Session, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False if there is no such live token of theirs."""
    row = session.scalar(select(UserApiToken).where(UserApiToken.id == token_id, UserApiToken.user_id == user_id,
                                                    UserApiToken.revoked.is_(False)))
    if row is None:
        return False
    row.revoked = True
    session.flush()
    return True
