"""Throttling password guessing, with two rules over the failed log-ins of the last ``WINDOW``:

- ``MAX_FAILURES`` for one login from one address: that login is refused from that address.
  Keyed by both, so somebody guessing from elsewhere cannot lock a user out of their own address.
- ``MAX_ADDRESS_FAILURES`` from one address across any logins: that address is refused for every
  login — someone spraying one password over many logins is slowed as much as someone guessing
  many passwords for one.

Either lock lasts until the oldest of the failures that made it is ``WINDOW`` old. The failures
are rows in the database (``LoginFailure``), so every web process counts the same ones. Rows
older than the window are deleted as new failures come in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import LoginFailure

MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Lock:
    """Log-ins are refused for ``wait`` more; ``scope`` says which rule: ``"login"`` (this login
    from this address) or ``"address"`` (every login from this address)."""

    wait: timedelta
    scope: str


def _key(login: str) -> str:
    return login.strip().lower()[:200]


def _wait(session: Session, conditions: list, limit: int, now: datetime) -> timedelta | None:
    """How long until fewer than ``limit`` failures matching ``conditions`` are in the window."""
    recent = list(session.scalars(select(LoginFailure.at).where(*conditions, LoginFailure.at > now - WINDOW)
                                  .order_by(LoginFailure.at.desc()).limit(limit)))
    if len(recent) < limit:
        return None
    return max(recent[-1] + WINDOW - now, timedelta(seconds=1))


def lock_for(session: Session, login: str, ip: str, now: datetime) -> Lock | None:
    """Whether log-ins for ``login`` from ``ip`` are refused now, for how long and by which rule."""
    by_address = _wait(session, [LoginFailure.ip == ip], MAX_ADDRESS_FAILURES, now)
    by_login = _wait(session, [LoginFailure.login == _key(login), LoginFailure.ip == ip], MAX_FAILURES, now)
    if by_address is not None and (by_login is None or by_address >= by_login):
        return Lock(by_address, "address")
    return Lock(by_login, "login") if by_login is not None else None


def locked_for(session: Session, login: str, ip: str, now: datetime) -> timedelta | None:
    """How much longer log-ins for ``login`` from ``ip`` are refused, or None if they are not."""
    lock = lock_for(session, login, ip, now)
    return lock.wait if lock else None


def record_failure(session: Session, login: str, ip: str, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add(LoginFailure(login=_key(login), ip=ip, at=now))
    session.flush()


def clear_failures(session: Session, login: str, ip: str) -> None:
    """A successful log-in starts this login's count from this address again; the address's other
    failures still count towards its own limit (one good password does not wipe a spray)."""
    session.execute(delete(LoginFailure).where(LoginFailure.login == _key(login), LoginFailure.ip == ip))
