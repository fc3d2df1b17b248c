"""Status mappings of a plugin configuration (certain.md §5.2): a Certain registration status
and the remote status (Marketo program status, Eloqua activity type) it corresponds to."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class StatusMapping(Base):
    """``event_id`` None: for every event of the account; an event's own row overrides it."""

    __tablename__ = "status_mappings"
    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_config_id: Mapped[int] = mapped_column(ForeignKey("plugin_configs.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    certain_status: Mapped[str] = mapped_column(String(100))
    remote_status: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
