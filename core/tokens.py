"""Creating and checking API tokens (``cnk_<random>``; the database keeps a SHA-256)."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Account, ApiToken, utcnow

PREFIX = "cnk_"


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
