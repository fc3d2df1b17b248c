"""The event-platform side: accounts, users, events, people and their registrations."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

ROLES = ("administrator", "event_builder")
CLASSIFICATIONS = ("accepted", "pending", "cancelled", "denied")


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    login: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()

    @property
    def is_administrator(self) -> bool:
        return self.role == "administrator"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("account_id", "event_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))  # led by the unique constraint's index
    event_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="active")
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled_applications: Mapped[list[str]] = mapped_column(JSON, default=list)
    date_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship()


class Profile(Base):
    """An account-level person, reused across events. Imports match on lower-cased email or
    external key, hence the expression indexes. ``account_id`` has no index of its own: all three
    composite indexes lead with it, and a lone one made SQLite's planner scan every profile of the
    account instead of using the e-mail index (migration 0005)."""

    __tablename__ = "profiles"
    __table_args__ = (
        UniqueConstraint("account_id", "pin"),
        Index("ix_profiles_account_email_lower", "account_id", func.lower(text("email"))),
        Index("ix_profiles_account_external_key_lower", "account_id", func.lower(text("external_key"))),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    pin: Mapped[str] = mapped_column(String(64))
    external_key: Mapped[str | None] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(300))
    position: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(200))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    date_created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


#: Profile attributes a field mapping may read or write, in form order.
PROFILE_FIELDS = (
    "email", "first_name", "last_name", "organization", "position", "phone",
    "city", "state", "postal_code", "country", "external_key", "pin",
)


class AttendeeType(Base):
    __tablename__ = "attendee_types"
    __table_args__ = (UniqueConstraint("event_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))  # led by the unique constraint's index
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class RegistrationStatus(Base):
    """The event's status catalogue: user-defined labels, each counted as one classification."""

    __tablename__ = "registration_statuses"
    __table_args__ = (UniqueConstraint("event_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))  # led by the unique constraint's index
    label: Mapped[str] = mapped_column(String(100))
    classification: Mapped[str] = mapped_column(String(16))
    is_standard: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class Registration(Base):
    """``event_id`` keeps its own index although two unique constraints lead with it: on SQLite it
    is (event_id, id), the order in which ``Store.iter_registrations`` pages through an event."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "registration_code"),
        UniqueConstraint("event_id", "profile_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id"), index=True)
    registration_code: Mapped[str] = mapped_column(String(64))
    attendee_type_code: Mapped[str] = mapped_column(String(64))
    status_label: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(100), default="api")
    external_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: when its status last changed through ``status_changes`` (the change's ``occurred_at``):
    #: an older change is stale; None (imported, or before 0012) never makes one stale
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    date_created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    date_modified: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    profile: Mapped[Profile] = relationship()
    event: Mapped[Event] = relationship()


class ExternalId(Base):
    """A profile's id in another system (``marketo_lead_id``), indexed for batch look-ups."""

    __tablename__ = "external_ids"
    __table_args__ = (UniqueConstraint("account_id", "system", "remote_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))  # led by the unique constraint's index
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str] = mapped_column(String(200))
