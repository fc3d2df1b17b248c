"""Sessions, agenda items and the account's interest tags: what engagement and interest metrics
are computed from (``specs/certain.md`` §2.2, §2.3, §3.1)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

SESSION_STATUSES = ("Registered", "Waitlisted", "Cancelled", "No Show", "Attended")
AGENDA_ITEM_STATUSES = ("Registered", "Waitlisted", "Cancelled")


class Tag(Base):
    """An account-level tag ("Security", "Cloud"); points are given per session or agenda item."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class Session(Base):
    """A session of the event (one instance: its time, place and capacity)."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("event_id", "session_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    session_code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    track: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("event_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fee: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=0)
    inventory: Mapped[int | None] = mapped_column(Integer)


class TagPoints(Base):
    """Points a tag gives to whoever takes a session or an agenda item (exactly one of the two)."""

    __tablename__ = "tag_points"
    __table_args__ = (
        UniqueConstraint("tag_id", "session_id", "agenda_item_id"),
        CheckConstraint("(session_id IS NULL) <> (agenda_item_id IS NULL)", name="one_target"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    points: Mapped[int] = mapped_column(Integer, default=0)

    tag: Mapped[Tag] = relationship()


class SessionRegistration(Base):
    __tablename__ = "session_registrations"
    __table_args__ = (UniqueConstraint("registration_id", "session_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: when its status last changed (the change's ``occurred_at``): an older change is stale
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    date_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AgendaItemRegistration(Base):
    __tablename__ = "agenda_item_registrations"
    __table_args__ = (UniqueConstraint("registration_id", "agenda_item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    fee: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: when its status last changed (the change's ``occurred_at``): an older change is stale
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    date_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
