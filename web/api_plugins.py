"""API: the account's plugin configurations (administrators only), through the core functions
the Third-Party Plugins page calls: connection with write-only secrets, Test connection (a task
a worker answers), field mappings and status mappings replaced whole and validated."""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from connectors import plugin_tasks
from connectors.plugin_api import Application
from connectors.plugin_configs import (
    ConfigError, mapping_rows, save_connection, save_mappings, save_status_mappings, snapshot, status_rows,
)
from connectors.models import PluginConfig, User

from . import access
from .api import bp
from .api_schemas import (
    ConnectionUpdate, FieldMappings, PluginConfigList, PluginConfigOut, StatusMappings, TaskOut, TasksOut,
)
from .api_support import ApiError, dump, load_body, operation
from .db import get_db, registry, services

TAG = "plugin configurations"


def _config_or_404(config_id: int) -> PluginConfig:
    access.require_admin()
    config = get_db().scalar(select(PluginConfig).where(PluginConfig.id == config_id,
                                                        PluginConfig.account_id == current_user.account_id))
    if config is None:
        abort(404, description="no such plugin configuration, or it belongs to another account")
    return config


def _installed(config: PluginConfig) -> Application:
    app = registry().applications.get(config.application)
    if app is None:
        abort(409, description=f"the {config.application} plugin is not installed: its settings cannot be edited")
    return app


def _user() -> User:
    return get_db().get(User, current_user.id)


def _last_test(config: PluginConfig) -> dict[str, Any] | None:
    last = plugin_tasks.last_test(config)
    return None if last is None else {"passed": last[0], "message": last[1], "tested_at": config.last_tested_at}


def config_view(config: PluginConfig) -> dict[str, Any]:
    """The settings without a secret: each secret only as "set" / "not set" (``snapshot``)."""
    app = registry().applications.get(config.application)
    secrets = snapshot(config, app, services().box)["secrets"] if app else {}
    return {"id": config.id, "application": config.application, "name": config.name,
            "enabled": bool(config.enabled), "installed": app is not None,
            "connection": dict(config.connection or {}), "secrets": secrets, "last_test": _last_test(config)}


def _fail(exc: ConfigError):
    get_db().rollback()
    return ApiError(422, exc.messages)


@bp.get("/plugin-configs")
@operation("List the account's plugin configurations", tag=TAG, roles="admin", response=PluginConfigList,
           errors=(403,))
def list_plugin_configs():
    access.require_admin()
    configs = get_db().scalars(select(PluginConfig).where(PluginConfig.account_id == current_user.account_id)
                               .order_by(PluginConfig.application))
    return dump(PluginConfigList, {"plugin_configs": [config_view(c) for c in configs]})


@bp.get("/plugin-configs/<int:config_id>")
@operation("One plugin configuration (secrets never returned)", tag=TAG, roles="admin", response=PluginConfigOut,
           errors=(403, 404))
def get_plugin_config(config_id: int):
    return dump(PluginConfigOut, config_view(_config_or_404(config_id)))


@bp.put("/plugin-configs/<int:config_id>/connection")
@operation("Update the connection settings", tag=TAG, roles="admin", body=ConnectionUpdate,
           response=PluginConfigOut, errors=(400, 403, 404, 409, 422),
           description="Checked by the application's connection schema (`connection.<field>` names a bad one). "
                       "Secrets are write-only: one left out or empty keeps its stored value; `clear` removes "
                       "optional ones. Audited as on the page.")
def update_connection(config_id: int):
    config = _config_or_404(config_id)  # the role and the account first, then the body
    db, body = get_db(), load_body(ConnectionUpdate)
    _installed(config)
    try:
        save_connection(db, registry(), services().box, account_id=config.account_id, user=_user(),
                        application=config.application, submitted=body["connection"], config=config,
                        name=body["name"], enabled=body["enabled"], clear=body["clear"])
    except ConfigError as exc:
        raise _fail(exc) from None
    db.commit()
    return dump(PluginConfigOut, config_view(config))


@bp.post("/plugin-configs/<int:config_id>/test")
@operation("Test the connection", tag=TAG, roles="admin", response=TaskOut, status=202, errors=(403, 404, 409),
           description="A worker calls the application; read the result from `GET …/tasks` (`check`).")
def test_connection(config_id: int):
    db = get_db()
    config = _config_or_404(config_id)
    _installed(config)
    task = plugin_tasks.request(db, config, "check", _user())
    db.commit()
    return dump(TaskOut, plugin_tasks.view(task), 202)


@bp.get("/plugin-configs/<int:config_id>/tasks")
@operation("The latest connection test and field discovery", tag=TAG, roles="admin", response=TasksOut,
           errors=(403, 404))
def plugin_config_tasks(config_id: int):
    db = get_db()
    config = _config_or_404(config_id)
    views = {kind: plugin_tasks.view(plugin_tasks.latest(db, config.id, kind)) for kind in ("check", "describe_fields")}
    return dump(TasksOut, {**views, "last_test": _last_test(config)})


@bp.get("/plugin-configs/<int:config_id>/mappings")
@operation("The field mappings", tag=TAG, roles="admin", response=FieldMappings, errors=(403, 404))
def get_mappings(config_id: int):
    return dump(FieldMappings, {"mappings": mapping_rows(_config_or_404(config_id))})


@bp.put("/plugin-configs/<int:config_id>/mappings")
@operation("Replace the field mappings", tag=TAG, roles="admin", body=FieldMappings, response=FieldMappings,
           errors=(400, 403, 404, 409, 422),
           description="All rows at once, in order; checked as on the page (and against the discovered fields "
                       "when there are some): `mappings.<row>.<column>` names each problem, nothing changes then.")
def put_mappings(config_id: int):
    config = _config_or_404(config_id)  # the role and the account first, then the body
    db, body = get_db(), load_body(FieldMappings)
    app = _installed(config)
    discovered = plugin_tasks.discovered_fields(db, config.id)
    try:
        save_mappings(db, config, body["mappings"], user=_user(), remote_fields=discovered[0] if discovered else None,
                      label=app.label)
    except ConfigError as exc:
        raise _fail(exc) from None
    db.commit()
    return dump(FieldMappings, {"mappings": mapping_rows(config)})


@bp.get("/plugin-configs/<int:config_id>/status-mappings")
@operation("The status mappings", tag=TAG, roles="admin", response=StatusMappings, errors=(403, 404))
def get_status_mappings(config_id: int):
    config = _config_or_404(config_id)
    return dump(StatusMappings, {"status_mappings": status_rows(get_db(), config)})


@bp.put("/plugin-configs/<int:config_id>/status-mappings")
@operation("Replace the status mappings", tag=TAG, roles="admin", body=StatusMappings, response=StatusMappings,
           errors=(400, 403, 404, 422),
           description="Checked against the account's statuses and events; `status_mappings.<row>.<column>` "
                       "names each problem.")
def put_status_mappings(config_id: int):
    config = _config_or_404(config_id)  # the role and the account first, then the body
    db, body = get_db(), load_body(StatusMappings)
    try:
        save_status_mappings(db, config, body["status_mappings"], user=_user(), label=config.name)
    except ConfigError as exc:
        raise _fail(exc) from None
    db.commit()
    return dump(StatusMappings, {"status_mappings": status_rows(db, config)})
