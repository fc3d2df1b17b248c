"""Changing an account's plugin configuration: connection (secrets write-only), enabled flag,
field mappings and status mappings — each change validated and audited in the caller's
transaction.

Secrets: a secret field left blank keeps its stored value; a value typed replaces it; ``clear``
removes an optional one. Secrets are sealed with the ``SecretBox`` and reach the audit trail
only as "set" / "not set" / "changed".
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping as MappingType

from marshmallow import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from . import audit
from .catalogue import STANDARD_STATUSES
from .mapping_rules import (
    normalise_row, normalise_status_row, validate_mappings, validate_status_mappings,
)
from .models import Event, FieldMapping, PluginConfig, RegistrationStatus, StatusMapping, User, utcnow
from .plugin_api import Application
from .plugins import PluginManager
from .secrets import SecretBox

TARGET = "plugin_config"


class ConfigError(Exception):
    """``messages``: ``{"connection.<field>" | "mappings.<row>.<column>" | ...: [reasons]}``."""

    def __init__(self, messages: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items()))
        self.messages = messages


def secret_keys(app: Application) -> dict[str, str]:
    """``{input key: stored name}`` of the connection schema's secret fields."""
    return {(f.data_key or name): name for name, f in app.connection_schema().fields.items() if f.metadata.get("secret")}


def stored_secrets(config: PluginConfig, box: SecretBox) -> dict[str, Any]:
    """The decrypted secrets; none when ``CONNECTORS_SECRET_KEY`` changed (they must be typed again)."""
    try:
        return box.open(config.secrets)
    except ValueError:
        return {}


def snapshot(config: PluginConfig, app: Application, box: SecretBox) -> dict[str, Any]:
    """The configuration's settings as the audit trail and the page may show them."""
    return {"name": config.name, "enabled": bool(config.enabled), "connection": dict(config.connection or {}),
            "secrets": audit.secret_states(secret_keys(app).values(), stored_secrets(config, box))}


def _flatten(messages: Any, prefix: str) -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"connection.field": [reasons]}``."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}.{key}"))
        return out
    return {prefix: [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]}


def _load_connection(app: Application, stored_secrets: dict[str, Any], submitted: MappingType[str, Any],
                     clear: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """(plain settings, secret settings, names of secrets typed anew) from what the form sent."""
    keys = secret_keys(app)
    cleared = set(clear)
    values = {k: v for k, v in submitted.items() if k not in keys}
    typed: set[str] = set()
    for key, name in keys.items():
        new = submitted.get(key)
        if key in cleared:
            continue
        if new not in (None, ""):
            values[key] = new
            typed.add(name)
        elif stored_secrets.get(name) not in (None, ""):
            values[key] = stored_secrets[name]
    try:
        loaded = app.connection_schema().load(values)
    except ValidationError as exc:
        raise ConfigError(_flatten(exc.messages, "connection")) from None
    secret_names = set(keys.values())
    plain = {k: v for k, v in loaded.items() if k not in secret_names}
    hidden = {k: v for k, v in loaded.items() if k in secret_names and v not in (None, "")}
    return plain, hidden, typed


def save_connection(session: Session, registry: PluginManager, box: SecretBox, *, account_id: int, user: User | None,
                    application: str, submitted: MappingType[str, Any], config: PluginConfig | None = None,
                    name: str | None = None, enabled: bool | None = None, clear: Iterable[str] = ()) -> PluginConfig:
    """Create the account's configuration of ``application`` or update ``config``; raises
    ``ConfigError`` naming each bad field (nothing is changed then)."""
    app = registry.application(application)
    name = (name or "").strip() or (config.name if config else app.label)
    if len(name) > 200:
        raise ConfigError({"name": ["At most 200 characters."]})
    if config is None and session.scalar(select(PluginConfig.id).where(
            PluginConfig.account_id == account_id, PluginConfig.application == application)) is not None:
        raise ConfigError({"application": [f"This account already has a {app.label} configuration."]})
    if config is not None:  # the latest secrets, locked: a worker may have just rotated a token
        session.refresh(config, with_for_update=session.get_bind().dialect.name == "postgresql")
    before = snapshot(config, app, box) if config is not None else None
    stored = stored_secrets(config, box) if config is not None else {}
    plain, hidden, typed = _load_connection(app, stored, submitted, clear)
    if config is None:
        config = PluginConfig(account_id=account_id, application=application, enabled=True, rate_limits={})
        session.add(config)
    config.name, config.connection, config.secrets = name, plain, box.seal(hidden)
    if enabled is not None:
        config.enabled = enabled
    session.flush()
    after = snapshot(config, app, box)
    for secret in typed:
        if stored.get(secret) != hidden.get(secret):
            after["secrets"][secret] = audit.CHANGED
    if before != after:
        audit.record(session, account_id=account_id, user=user, action="connection.create" if before is None
                     else "connection.update", target_type=TARGET, target_id=config.id, target_label=app.label,
                     before=before, after=after, secret_names=secret_keys(app).values())
    return config


def set_enabled(session: Session, config: PluginConfig, enabled: bool, user: User | None, label: str) -> bool:
    """Switch the configuration on or off; False when it already was."""
    if bool(config.enabled) == enabled:
        return False
    config.enabled = enabled
    audit.record(session, account_id=config.account_id, user=user, action="config.enable" if enabled else "config.disable",
                 target_type=TARGET, target_id=config.id, target_label=label,
                 before={"enabled": not enabled}, after={"enabled": enabled})
    return True


def mapping_rows(config: PluginConfig) -> list[dict[str, Any]]:
    return [{"direction": m.direction, "certain_field": m.certain_field, "remote_field": m.remote_field,
             "transform": m.transform, "update_policy": m.update_policy, "is_match_key": bool(m.is_match_key),
             "required": bool(m.required)} for m in config.mappings]


def save_mappings(session: Session, config: PluginConfig, rows: list[MappingType[str, Any]], *, user: User | None,
                  remote_fields: MappingType[str, Any] | None, label: str) -> list[FieldMapping]:
    """Replace the configuration's field mappings by ``rows`` (in that order); raises
    ``ConfigError`` with every problem and changes nothing then."""
    clean = [normalise_row(r) for r in rows]
    errors = validate_mappings(clean, remote_fields, label)
    if errors:
        raise ConfigError(errors)
    before = mapping_rows(config)
    config.mappings = [FieldMapping(position=i, **row) for i, row in enumerate(clean)]
    if before != clean:
        _touch(config)
    session.flush()
    if before != clean:
        audit.record(session, account_id=config.account_id, user=user, action="mappings.update", target_type=TARGET,
                     target_id=config.id, target_label=label, before=before, after=clean)
    return list(config.mappings)


def _touch(config: PluginConfig) -> None:
    """A mapping change is a change of the configuration: what is cached by ``updated_at`` (the
    rows' own tables are not ``plugin_configs``, so ``onupdate`` alone would not see it) is stale."""
    config.updated_at = utcnow()


def account_statuses(session: Session, account_id: int) -> list[str]:
    """The standard status labels, then every custom one used by the account's events."""
    standard = [label for label, _ in STANDARD_STATUSES]
    custom = session.scalars(select(RegistrationStatus.label).join(Event, Event.id == RegistrationStatus.event_id)
                             .where(Event.account_id == account_id).distinct())
    return standard + sorted(set(custom) - set(standard))


def status_rows(session: Session, config: PluginConfig) -> list[dict[str, Any]]:
    rows = session.scalars(select(StatusMapping).where(StatusMapping.plugin_config_id == config.id)
                           .order_by(StatusMapping.position, StatusMapping.id))
    return [{"direction": r.direction, "certain_status": r.certain_status, "remote_status": r.remote_status,
             "event_id": r.event_id} for r in rows]


def save_status_mappings(session: Session, config: PluginConfig, rows: list[MappingType[str, Any]], *,
                         user: User | None, label: str) -> list[dict[str, Any]]:
    """Replace the configuration's status mappings (validated against the account's statuses
    and events)."""
    clean = [normalise_status_row(r) for r in rows]
    events = session.scalars(select(Event.id).where(Event.account_id == config.account_id))
    errors = validate_status_mappings(clean, account_statuses(session, config.account_id), events)
    if errors:
        raise ConfigError(errors)
    before = status_rows(session, config)
    session.execute(delete(StatusMapping).where(StatusMapping.plugin_config_id == config.id))
    session.add_all(StatusMapping(plugin_config_id=config.id, position=i, **row) for i, row in enumerate(clean))
    if before != clean:
        _touch(config)
    session.flush()
    session.expire(config, ["status_mappings"])  # read-only relationship: read the new rows when next used
    if before != clean:
        audit.record(session, account_id=config.account_id, user=user, action="status_mappings.update",
                     target_type=TARGET, target_id=config.id, target_label=label, before=before, after=clean)
    return clean
