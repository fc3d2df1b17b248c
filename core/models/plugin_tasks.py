"""Remote calls a page asks a worker to make for a plugin configuration: "Test connection"
(``Application.check``) and field discovery (``Application.describe_fields``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow

TASK_KINDS = ("check", "describe_fields")
TASK_STATUSES = ("queued", "running", "succeeded", "failed")


class PluginTask(Base):
    """One request and its outcome. The latest successful ``describe_fields`` task is the
    configuration's cache of remote fields (``result``: a list of field dicts)."""

    __tablename__ = "plugin_tasks"
    __table_args__ = (Index("ix_plugin_tasks_config_kind", "plugin_config_id", "kind", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_config_id: Mapped[int] = mapped_column(ForeignKey("plugin_configs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))
    ok: Mapped[bool | None] = mapped_column(Boolean)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
