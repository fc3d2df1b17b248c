"""The forms of the plugins page: the connection form generated from the application's schema
(``paramforms``, as the New Job form), with secrets write-only; and the mapping tables read
from numbered inputs (``m-<row>-<column>``, ``s-<row>-<column>``), which ``static/plugins.js``
renumbers when rows are added, removed or moved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import Length
from wtforms.widgets import PasswordInput

from connectors.audit import SET
from connectors.plugin_api import Application
from connectors.plugin_configs import secret_keys

from .. import paramforms
from ..paramforms import Param

#: Connection fields shown under "Rate limits" (names of the spec's ``rate_limits`` and
#: Marketo's limiter), and any field whose metadata says ``group="rate_limits"``.
RATE_LIMIT_NAMES = frozenset({"calls_per_window", "window_seconds", "window_s", "max_concurrency",
                              "max_concurrent", "daily_budget", "daily_quota"})
CLEAR_PREFIX = "clear_"
MAPPING_COLUMNS = ("direction", "certain_field", "remote_field", "transform", "update_policy", "is_match_key",
                   "required")
STATUS_COLUMNS = ("direction", "certain_status", "remote_status", "event_id")


class ConnectionFormBase(FlaskForm):
    name = StringField("Configuration name", validators=[Length(max=200)], render_kw={"maxlength": 200})
    enabled = BooleanField("Enabled", description="Jobs can be submitted for this application only while it is enabled.")


@dataclass(frozen=True)
class ConnectionInputs:
    """The generated inputs: ``secrets`` maps a secret input's key to its state ("set" / "not set")."""

    form_class: type[ConnectionFormBase]
    params: list[Param]
    secrets: dict[str, str]
    rate_limit_keys: frozenset[str]
    clearable: frozenset[str]

    def main(self) -> list[Param]:
        return [p for p in self.params if p.key not in self.rate_limit_keys]

    def rate_limits(self) -> list[Param]:
        return [p for p in self.params if p.key in self.rate_limit_keys]


def connection_inputs(app: Application, secret_states: dict[str, str]) -> ConnectionInputs:
    """Inputs for the application's connection schema. A secret becomes a password input that
    is never filled in (not even after a failed post); an optional one gets a "remove" box."""
    keys = secret_keys(app)
    schema_fields = app.connection_schema().fields
    rate = frozenset((f.data_key or name) for name, f in schema_fields.items()
                     if name in RATE_LIMIT_NAMES or f.metadata.get("group") == "rate_limits")
    attrs: dict[str, Any] = {}
    states: dict[str, str] = {}
    clearable: set[str] = set()
    params: list[Param] = []
    for param, unbound in paramforms.generate_for_schema(app.connection_schema):
        if param.key in keys:
            state = states[param.key] = secret_states.get(keys[param.key], "not set")
            help_text = (unbound.kwargs.get("description") or "").strip()
            if help_text and not help_text.endswith((".", "!", "?")):
                help_text += "."
            note = ("Stored encrypted, never shown. Leave blank to keep the current value."
                    if state == SET else "Stored encrypted, never shown.")
            required = param.required and state != SET
            unbound = PasswordField(param.label, description=f"{help_text} {note}".strip(),
                                    widget=PasswordInput(hide_value=True),
                                    render_kw={"autocomplete": "new-password", **({"required": True} if required else {})})
            if not param.required and state == SET:
                clearable.add(param.key)
                attrs[CLEAR_PREFIX + param.key] = BooleanField(f"Remove the stored {param.label.lower()}")
        attrs[param.form_name] = unbound
        params.append(param)
    form_class = type("ConnectionForm", (ConnectionFormBase,), attrs)
    return ConnectionInputs(form_class, params, states, rate, frozenset(clearable))


def initial_data(inputs: ConnectionInputs, connection: dict[str, Any], name: str, enabled: bool) -> dict[str, Any]:
    """What the form shows for a stored configuration: plain settings only."""
    data: dict[str, Any] = {"name": name, "enabled": enabled}
    for p in inputs.params:
        if p.key in inputs.secrets or p.name not in connection:
            continue
        value = connection[p.name]
        data[p.form_name] = value if p.kind == "boolean" else ("" if value is None else str(value))
    return data


def submitted(form: ConnectionFormBase, inputs: ConnectionInputs) -> tuple[dict[str, Any], list[str]]:
    """(connection values for the core, secret keys to remove)."""
    values = paramforms.values(form, inputs.params)
    clear = [key for key in inputs.clearable if form[CLEAR_PREFIX + key].data]
    return values, clear


def place_errors(form: ConnectionFormBase, inputs: ConnectionInputs, messages: dict[str, list[str]]) -> list[str]:
    """Attach ``connection.<key>`` and ``name`` messages to their inputs; return the rest."""
    by_key = {p.key: p.form_name for p in inputs.params}
    general: list[str] = []
    for path, reasons in messages.items():
        head, _, rest = path.partition(".")
        target = by_key.get(rest) if head == "connection" else ("name" if path == "name" else None)
        if target is None:
            label = rest if rest and rest != "_schema" else ""
            general.extend(f"{label}: {r}" if label else r for r in reasons)
            continue
        form[target].errors = [*form[target].errors, *reasons]
    return general


def _row_number(text: str) -> bool:
    """A row number as the page writes it: a few ASCII digits (``"²".isdigit()`` is true, and a
    number of thousands of digits is refused by ``int``)."""
    return text.isascii() and text.isdigit() and len(text) <= 6


def _rows(formdata: MultiDict, prefix: str, columns: tuple[str, ...], flags: tuple[str, ...],
          keys: tuple[str, str]) -> list[dict[str, Any]]:
    """Numbered rows in number order, without those ticked for removal or whose ``keys`` are
    both blank (e.g. the empty row offered for adding one)."""
    numbers = sorted({int(key.split("-")[1]) for key in formdata
                      if key.startswith(prefix + "-") and key.count("-") >= 2 and _row_number(key.split("-")[1])})
    rows = []
    for n in numbers:
        get = lambda column: formdata.get(f"{prefix}-{n}-{column}", "")  # noqa: E731
        if get("delete"):
            continue
        row = {c: (bool(get(c)) if c in flags else get(c).strip()) for c in columns}
        if not any(row[k] for k in keys):
            continue
        rows.append(row)
    return rows


def mapping_rows(formdata: MultiDict) -> list[dict[str, Any]]:
    return _rows(formdata, "m", MAPPING_COLUMNS, ("is_match_key", "required"), ("certain_field", "remote_field"))


def status_rows(formdata: MultiDict) -> list[dict[str, Any]]:
    return _rows(formdata, "s", STATUS_COLUMNS, (), ("certain_status", "remote_status"))


def row_errors(messages: dict[str, list[str]], prefix: str) -> tuple[dict[int, dict[str, list[str]]], list[str]]:
    """``{row: {column: [reasons]}}`` and the messages about the whole table."""
    by_row: dict[int, dict[str, list[str]]] = {}
    general: list[str] = []
    for path, reasons in messages.items():
        parts = path.split(".")
        if parts[0] == prefix and len(parts) == 3 and _row_number(parts[1]):
            by_row.setdefault(int(parts[1]), {}).setdefault(parts[2], []).extend(reasons)
        else:
            general.extend(reasons)
    return by_row, general
