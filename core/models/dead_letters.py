"""Messages the bus gave up on, copied into the database so an operator can read, replay or drop them.

The broker's dead-letter queue is drained into this table by the collector
(``connectors.bus.dead_letters``); the table, not the queue, is what pages, the CLI and
``/metrics`` read. Not per account: a dead letter is an operator's concern, and ``account_id``
is only what its payload resolved to when it was recorded (None when it resolves to nothing).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

DEAD_LETTER_STATUSES = ("open", "replayed", "dropped")


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of (message id, or body when it has none) and the time it died: a redelivered copy
    #: of the same dead letter is recognised and not recorded twice
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    message_type: Mapped[str | None] = mapped_column(String(200))
    exchange: Mapped[str | None] = mapped_column(String(255))
    routing_key: Mapped[str | None] = mapped_column(String(255))
    queue: Mapped[str | None] = mapped_column(String(255), index=True)
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)  # the body as text (JSON when it was), capped in size
    body_truncated: Mapped[bool] = mapped_column(default=False)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no foreign key: accounts may go
    died_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(64))  # a user id, or "cli"
