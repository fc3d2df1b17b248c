"""Account Settings › Third-Party Plugins: installed applications, and per application the
account's one configuration — connection, "Test connection", field and status mappings, and
the change history. Administrators only (event builders get 403); a configuration of another
account is not found (404).

No remote call happens here: "Test connection" and "Discover fields" write a task and its
command (``connectors.plugin_tasks``); a worker answers and ``tasks.json`` reports it.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from connectors import audit, plugin_tasks
from connectors.mapping import TRANSFORMS
from connectors.mapping_rules import CERTAIN_FIELDS
from connectors.models import DIRECTIONS, UPDATE_POLICIES, PluginConfig, User
from connectors.plugin_api import Application
from connectors.plugin_configs import (
    TARGET, ConfigError, account_statuses, mapping_rows, save_connection, save_mappings, save_status_mappings,
    set_enabled, snapshot, status_rows,
)

from .. import access
from ..db import get_db, registry, services
from ..filters import iso, local_time
from . import forms

bp = Blueprint("plugins", __name__, url_prefix="/account/plugins")
bp.before_request(access.require_admin)

AUDIT_SHOWN = 50


def _config_or_404(config_id: int) -> PluginConfig:
    config = get_db().scalar(select(PluginConfig).where(PluginConfig.id == config_id,
                                                        PluginConfig.account_id == current_user.account_id))
    if config is None:
        abort(404)
    return config


def _user() -> User:
    return get_db().get(User, current_user.id)


def _plugin_of(application: str) -> Any:
    reg = registry()
    return next((p for p in reg.plugins() if application in p.applications), None)


@bp.get("/")
def index():
    reg, db = registry(), get_db()
    configs = {c.application: c for c in db.scalars(select(PluginConfig).where(
        PluginConfig.account_id == current_user.account_id))}
    apps = sorted(reg.applications.values(), key=lambda a: a.label.lower())
    rows = [{"app": app, "plugin": _plugin_of(app.name), "config": configs.get(app.name),
             "last_test": plugin_tasks.last_test(configs[app.name]) if app.name in configs else None,
             "check": plugin_tasks.view(plugin_tasks.latest(db, configs[app.name].id, "check"))
             if app.name in configs else None} for app in apps]
    orphans = [c for name, c in configs.items() if name not in reg.applications]
    return render_template("plugins/index.html", rows=rows, orphans=orphans, load_errors=reg.load_errors)


@bp.route("/new/<application>", methods=["GET", "POST"])
def create(application: str):
    app = registry().applications.get(application)
    if app is None:
        abort(404)
    db = get_db()
    existing = db.scalar(select(PluginConfig.id).where(PluginConfig.account_id == current_user.account_id,
                                                       PluginConfig.application == application))
    if existing is not None:
        return redirect(url_for(".detail", config_id=existing))
    inputs = forms.connection_inputs(app, {})
    form = inputs.form_class(data={"name": app.label, "enabled": True})
    general: list[str] = []
    if request.method == "POST":
        values, clear = forms.submitted(form, inputs)
        try:
            config = save_connection(db, registry(), services().box, account_id=current_user.account_id, user=_user(),
                                     application=application, submitted=values, name=form.name.data,
                                     enabled=bool(form.enabled.data), clear=clear)
        except ConfigError as exc:
            db.rollback()
            general = forms.place_errors(form, inputs, exc.messages)
        else:
            _add_default_mappings(config, app)
            db.commit()
            flash(f"{app.label} configured. Test the connection, then check the field mappings.", "success")
            return redirect(url_for(".detail", config_id=config.id))
    return render_template("plugins/create.html", app=app, form=form, inputs=inputs, general_errors=general,
                           plugin=_plugin_of(application)), 422 if general or form.errors else 200


def _add_default_mappings(config: PluginConfig, app: Application) -> None:
    """A new configuration starts with the mappings the plugin proposes (if they pass the checks)."""
    rows = [{"direction": m.direction, "certain_field": m.certain_field, "remote_field": m.remote_field,
             "transform": m.transform, "update_policy": m.update_policy, "is_match_key": m.is_match_key,
             "required": m.required} for m in app.default_mappings]
    if rows:
        try:
            with get_db().begin_nested():
                save_mappings(get_db(), config, rows, user=_user(), remote_fields=None, label=app.label)
        except ConfigError:
            flash(f"The mappings {app.label} proposes do not pass the checks; add your own.", "info")


@bp.get("/<int:config_id>")
def detail(config_id: int):
    return _render_detail(_config_or_404(config_id))


def _render_detail(config: PluginConfig, *, form=None, connection_errors=(), mappings=None, mapping_errors=None,
                   statuses=None, status_errors=None, code: int = 200):
    db = get_db()
    app = registry().applications.get(config.application)
    inputs = None
    if app is not None:
        inputs = forms.connection_inputs(app, snapshot(config, app, services().box)["secrets"])
        if form is None:
            form = inputs.form_class(formdata=None, data=forms.initial_data(
                inputs, config.connection or {}, config.name, bool(config.enabled)))
    discovered = plugin_tasks.discovered_fields(db, config.id)
    m_errors, m_general = forms.row_errors(mapping_errors or {}, "mappings")
    s_errors, s_general = forms.row_errors(status_errors or {}, "status_mappings")
    entries = audit.entries_for(db, config.account_id, TARGET, config.id, AUDIT_SHOWN)
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_({e.user_id for e in entries if e.user_id})))}
    return render_template(
        "plugins/detail.html", config=config, app=app, plugin=_plugin_of(config.application), form=form,
        inputs=inputs, connection_errors=list(connection_errors), tasks=_task_views(config),
        last_test=plugin_tasks.last_test(config),
        discovered=discovered[0] if discovered else None, discovered_at=discovered[1] if discovered else None,
        mappings=mapping_rows(config) if mappings is None else mappings, mapping_errors=m_errors,
        mapping_general=m_general, certain_fields=CERTAIN_FIELDS, transforms=list(TRANSFORMS),
        policies=UPDATE_POLICIES, directions=DIRECTIONS,
        status_mappings=status_rows(db, config) if statuses is None else statuses, status_errors=s_errors,
        status_general=s_general, statuses=account_statuses(db, config.account_id), events=access.visible_events(),
        history=[{"entry": e, "user": users.get(e.user_id), "changes": audit.changes(e.before, e.after)} for e in entries],
    ), code


def _task_views(config: PluginConfig) -> dict[str, Any]:
    db = get_db()
    return {kind: plugin_tasks.view(plugin_tasks.latest(db, config.id, kind)) for kind in ("check", "describe_fields")}


@bp.post("/<int:config_id>/connection")
def save(config_id: int):
    db = get_db()
    config = _config_or_404(config_id)
    app = _installed(config)
    inputs = forms.connection_inputs(app, snapshot(config, app, services().box)["secrets"])
    form = inputs.form_class()
    values, clear = forms.submitted(form, inputs)
    try:
        save_connection(db, registry(), services().box, account_id=config.account_id, user=_user(),
                        application=config.application, submitted=values, config=config, name=form.name.data,
                        enabled=bool(form.enabled.data), clear=clear)
    except ConfigError as exc:
        db.rollback()
        config = _config_or_404(config_id)
        general = forms.place_errors(form, inputs, exc.messages)
        return _render_detail(config, form=form, connection_errors=general, code=422)
    db.commit()
    flash("Connection settings saved. Test the connection to check them.", "success")
    return redirect(url_for(".detail", config_id=config.id) + "#connection")


def _installed(config: PluginConfig) -> Application:
    app = registry().applications.get(config.application)
    if app is None:
        abort(409, description=f"The {config.application} plugin is not installed: its settings cannot be edited. "
                               "Install its package again and restart the web and worker processes.")
    return app


@bp.post("/<int:config_id>/enabled")
def toggle(config_id: int):
    db = get_db()
    config = _config_or_404(config_id)
    enabled = request.form.get("enabled") == "1"
    if set_enabled(db, config, enabled, _user(), config.name):
        db.commit()
        flash(f"{config.name} {'enabled' if enabled else 'disabled'}.", "success")
    return redirect(url_for(".detail", config_id=config.id))


@bp.post("/<int:config_id>/test")
def test(config_id: int):
    return _request_task(config_id, "check", "Testing the connection on a worker…", "#connection-test")


@bp.post("/<int:config_id>/discover")
def discover(config_id: int):
    return _request_task(config_id, "describe_fields", "Reading the fields of the application on a worker…", "#mappings")


def _request_task(config_id: int, kind: str, message: str, anchor: str):
    db = get_db()
    config = _config_or_404(config_id)
    _installed(config)
    plugin_tasks.request(db, config, kind, _user())
    db.commit()
    flash(message, "info")
    return redirect(url_for(".detail", config_id=config.id) + anchor)


@bp.get("/<int:config_id>/tasks.json")
def tasks_json(config_id: int):
    config = _config_or_404(config_id)
    payload: dict[str, Any] = {"last_tested_at": iso(config.last_tested_at),
                               "last_tested_at_text": local_time(config.last_tested_at),
                               "last_test_result": config.last_test_result}
    for kind, task in _task_views(config).items():
        payload[kind] = None if task is None else {
            **task, "requested_at": iso(task["requested_at"]), "ended_at": iso(task["ended_at"]),
            "ended_at_text": local_time(task["ended_at"])}
    payload["active"] = any(t and t["active"] for t in (payload["check"], payload["describe_fields"]))
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:config_id>/mappings")
def mappings(config_id: int):
    db = get_db()
    config = _config_or_404(config_id)
    app = _installed(config)
    rows = forms.mapping_rows(request.form)
    discovered = plugin_tasks.discovered_fields(db, config.id)
    try:
        save_mappings(db, config, rows, user=_user(), remote_fields=discovered[0] if discovered else None,
                      label=app.label)
    except ConfigError as exc:
        db.rollback()
        return _render_detail(_config_or_404(config_id), mappings=rows, mapping_errors=exc.messages, code=422)
    db.commit()
    flash(f"Field mappings saved ({len(rows)}).", "success")
    return redirect(url_for(".detail", config_id=config.id) + "#mappings")


@bp.post("/<int:config_id>/status-mappings")
def status_mappings(config_id: int):
    db = get_db()
    config = _config_or_404(config_id)
    rows = forms.status_rows(request.form)
    try:
        save_status_mappings(db, config, rows, user=_user(), label=config.name)
    except ConfigError as exc:
        db.rollback()
        return _render_detail(_config_or_404(config_id), statuses=rows, status_errors=exc.messages, code=422)
    db.commit()
    flash(f"Status mappings saved ({len(rows)}).", "success")
    return redirect(url_for(".detail", config_id=config.id) + "#status-mappings")
