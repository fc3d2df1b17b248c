"""The tables behind the admin's access rules: which events an event builder is assigned to,
the recent failed log-ins that throttle password guessing, and the server-side log-in sessions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class EventAssignment(Base):
    """An event builder's access to one event of their account. Administrators need none: they
    see every event of their account (``connectors.event_access``)."""

    __tablename__ = "event_assignments"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Base):
    """One failed log-in, kept while it counts towards the throttle (``connectors.login_throttle``).
    Stored in the database so that every web process counts the same failures."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_login_ip_at", "login", "ip", "at"),
                      Index("ix_login_failures_ip_at", "ip", "at"))  # the per-address count
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(200))  # as typed, lower-cased: case changes do not reset the count
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LoginSession(Base):
    """One signed-in browser (``connectors.login_sessions``). The cookie carries a random key; only
    its SHA-256 is kept here, so a row is useless to whoever reads the table. A session is live
    while ``ended_at`` is empty: logging out, a password change or a deactivation sets it, and the
    cookie stops working whatever it still says."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))  # logout | password_changed | deactivated
