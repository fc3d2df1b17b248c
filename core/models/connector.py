"""Per-account plugin configuration: connection settings and field mappings."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from .status_mappings import StatusMapping

DIRECTIONS = ("inbound", "outbound")
UPDATE_POLICIES = ("overwrite", "only_if_blank", "never")


class PluginConfig(Base):
    """One configuration per application and account.

    ``connection`` holds the plain settings; ``secrets`` holds the secret ones as one Fernet
    token (see ``connectors.secrets``) and is never rendered, logged or sent on the bus.
    """

    __tablename__ = "plugin_configs"
    __table_args__ = (UniqueConstraint("account_id", "application"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    application: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    connection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[str | None] = mapped_column(Text)
    rate_limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_test_result: Mapped[str | None] = mapped_column(Text)
    #: who holds the connection state's lease (a worker refreshing a single-use OAuth token) and until when
    state_lease_holder: Mapped[str | None] = mapped_column(String(200))
    state_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    mappings: Mapped[list["FieldMapping"]] = relationship(
        back_populates="plugin_config", cascade="all, delete-orphan", order_by="FieldMapping.position"
    )
    #: read-only: ``connectors.plugin_configs.save_status_mappings`` writes the rows
    status_mappings: Mapped[list["StatusMapping"]] = relationship(
        viewonly=True, order_by="[StatusMapping.position, StatusMapping.id]"
    )


class FieldMapping(Base):
    __tablename__ = "field_mappings"
    id: Mapped[int] = mapped_column(primary_key=True)
    plugin_config_id: Mapped[int] = mapped_column(ForeignKey("plugin_configs.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    certain_field: Mapped[str] = mapped_column(String(200))  # dotted path: profile.email, registration.status_label
    remote_field: Mapped[str] = mapped_column(String(200))
    transform: Mapped[str] = mapped_column(String(32), default="none")
    update_policy: Mapped[str] = mapped_column(String(16), default="overwrite")
    is_match_key: Mapped[bool] = mapped_column(Boolean, default=False)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    plugin_config: Mapped[PluginConfig] = relationship(back_populates="mappings")
