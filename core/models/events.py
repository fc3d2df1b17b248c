"""Status-change events and the transactional outbox that carries messages to the bus."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class StatusChangeEvent(Base):
    """The shape of ``specs/certain.md`` §5.4, kept as the payload plus columns to filter on."""

    __tablename__ = "status_change_events"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    registration_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class ReceivedEvent(Base):
    """An event id the event platform sent, remembered per account with what became of it, so
    that a resent or replayed event is answered ``duplicate`` and changes nothing. Ids are the
    sender's, unique only within its account; ``status_change_event_id`` is the event it was
    recorded as when it changed something (the events table has ids of its own)."""

    __tablename__ = "received_events"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | unchanged | stale
    status_change_event_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Outbox(Base):
    """A message written in the same transaction as the change it announces; the relay sends it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    exchange: Mapped[str] = mapped_column(String(32))  # commands | events
    routing_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
