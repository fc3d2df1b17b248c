"""Creating, checking, listing and revoking API tokens; the database keeps only a SHA-256 of each.

Two kinds: an account's ingestion token (``cnk_…``, the event platform posting status changes)
and a user's API token (``cnu_…``, a person or script acting as that user on ``/api/v1``). Either
may be given an expiry when it is made: past it, the token answers exactly like a wrong one.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .models import Account, ApiToken, User, utcnow
from .models.tokens import UserApiToken

PREFIX = "cnk_"
USER_PREFIX = "cnu_"
MAX_NAME = 200
#: The longest life a token may be given, in days (ten years): a typo must not mean "for ever and a day".
MAX_EXPIRY_DAYS = 3650
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


def expiry(days: int | str | None = None, on: date | str | None = None, now: datetime | None = None) -> datetime | None:
    """When a new token stops working: ``days`` from now, or at 00:00 UTC ``on`` a date; None (no
    expiry) when neither is given. Raises ``TokenError`` for a value that is not a future time."""
    if days not in (None, "") and on not in (None, ""):
        raise TokenError("expires", "give a number of days or a date, not both")
    now = now or utcnow()
    if days not in (None, ""):
        try:
            days = int(days)
        except (TypeError, ValueError):
            raise TokenError("expires", "the number of days must be a whole number") from None
        if not 1 <= days <= MAX_EXPIRY_DAYS:
            raise TokenError("expires", f"between 1 and {MAX_EXPIRY_DAYS} days")
        return now + timedelta(days=days)
    if on in (None, ""):
        return None
    try:
        day = on if isinstance(on, date) else date.fromisoformat(str(on).strip())
    except ValueError:
        raise TokenError("expires", "a date is written YYYY-MM-DD") from None
    at = datetime.combine(day, time(), tzinfo=timezone.utc)
    if at <= now:
        raise TokenError("expires", "the date must be in the future")
    if at > now + timedelta(days=MAX_EXPIRY_DAYS):
        raise TokenError("expires", f"at most {MAX_EXPIRY_DAYS} days ahead")
    return at


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise TokenError("name", "give the token a name that says where it is used")
    if len(name) > MAX_NAME:
        raise TokenError("name", f"at most {MAX_NAME} characters")
    return name


def token_state(row: ApiToken | UserApiToken, now: datetime | None = None) -> str:
    """What a list shows: ``live``, ``revoked`` or ``expired``."""
    if row.revoked:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "live"


def _unexpired(column, now: datetime):
    return or_(column.is_(None), column > now)


def create_token(session: Session, account: Account, name: str, scope: str = "ingest",
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new ingestion token of ``account``; the returned string is the only time it is ever seen."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(account_id=account.id, name=_clean_name(name), scope=scope, prefix=token[:12],
                   token_hash=_digest(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def account_for_token(session: Session, token: str | None, scope: str = "ingest") -> Account | None:
    """The account a live, unexpired token of this scope belongs to (and note its use), else None."""
    if not token or not token.startswith(PREFIX):
        return None
    now = utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.scope == scope,
                                                ApiToken.revoked.is_(False), _unexpired(ApiToken.expires_at, now)))
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return session.get(Account, row.account_id)


def account_tokens(session: Session, account_id: int) -> list[ApiToken]:
    """An account's ingestion tokens, newest first (revoked and expired ones too)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.account_id == account_id)
                                .order_by(ApiToken.id.desc())))


def revoke_account_token(session: Session, account_id: int, token_id: int) -> bool:
    """Revoke one of the account's ingestion tokens; False if there is no such unrevoked token."""
    row = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.account_id == account_id,
                                                ApiToken.revoked.is_(False)))
    if row is None:
        return False
    row.revoked = True
    session.flush()
    return True


def create_user_token(session: Session, user: User, name: str,
                      expires_at: datetime | None = None) -> tuple[UserApiToken, str]:
    """A new API token acting as ``user``; the returned string is the only time it is seen."""
    name = _clean_name(name)
    if not user.is_active:
        raise TokenError("user", f"{user.login} is not active")
    token = USER_PREFIX + secrets.token_urlsafe(32)
    row = UserApiToken(user_id=user.id, name=name, prefix=token[:12], token_hash=_digest(token),
                       expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def user_by_login(session: Session, login: str) -> User:
    """The user with that login (e-mail), for the CLI; ``TokenError`` if there is none."""
    user = session.scalar(select(User).where(User.login == login.strip()))
    if user is None:
        raise TokenError("user", f"no user {login!r}")
    return user


def user_for_token(session: Session, token: str | None) -> User | None:
    """The active user a live, unexpired user token belongs to (and note its use), else None.
    An inactive user's tokens answer None whatever their rows say (deactivation also revokes them)."""
    if not token or not token.startswith(USER_PREFIX):
        return None
    now = utcnow()
    found = session.execute(select(UserApiToken, User).join(User, User.id == UserApiToken.user_id)
                            .where(UserApiToken.token_hash == _digest(token), UserApiToken.revoked.is_(False),
                                   _unexpired(UserApiToken.expires_at, now), User.is_active.is_(True))).first()
    if found is None:
        return None
    row, user = found
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return user


def user_tokens(session: Session, user_id: int) -> list[UserApiToken]:
    """A user's tokens, newest first (revoked and expired ones too: they say when a token stopped working)."""
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
