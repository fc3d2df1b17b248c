"""Throttling password guessing: after ``MAX_FAILURES`` failed log-ins for one login from one
address within ``WINDOW``, further attempts are refused until the oldest of them is ``WINDOW`` old.

The failures are rows in the database (``LoginFailure``), so every web process counts the same
ones. Keyed by login and address together: somebody guessing from elsewhere cannot lock a user
out of their own address. Rows older than the window are deleted as new failures come in.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import LoginFailure

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def _key(login: str) -> str:
    return login.strip().lower()[:200]


def locked_for(session: Session, login: str, ip: str, now: datetime) -> timedelta | None:
    """How much longer log-ins for ``login`` from ``ip`` are refused, or None if they are not."""
    recent = list(session.scalars(
        select(LoginFailure.at).where(LoginFailure.login == _key(login), LoginFailure.ip == ip,
                                      LoginFailure.at > now - WINDOW)
        .order_by(LoginFailure.at.desc()).limit(MAX_FAILURES)))
    if len(recent) < MAX_FAILURES:
        return None
    return max(recent[-1] + WINDOW - now, timedelta(seconds=1))


def record_failure(session: Session, login: str, ip: str, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add(LoginFailure(login=_key(login), ip=ip, at=now))
    session.flush()


def clear_failures(session: Session, login: str, ip: str) -> None:
    """A successful log-in starts the count again."""
    session.execute(delete(LoginFailure).where(LoginFailure.login == _key(login), LoginFailure.ip == ip))
