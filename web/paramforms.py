"""Form fields generated from a job type's marshmallow params schema.

Job types come from plugins, third-party ones included, so their forms cannot be written by
hand: each schema field becomes a WTForms field (String -> text, Integer -> number with the
Range's min/max, Boolean -> checkbox, OneOf -> select, a List of choices -> checkboxes, and the
fields named in ``JobType.event_choices`` -> the event's attendee types or registration
statuses). WTForms only renders and keeps what was typed; validation stays in the core, which
loads the same schema in ``submit`` and names each bad field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from marshmallow import Schema, fields, missing, validate
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.widgets import (
    CheckboxInput, DateInput, DateTimeLocalInput, EmailInput, ListWidget, NumberInput, URLInput,
)

from connectors.plugin_api import JobType

try:  # WTForms 3.3 deprecates (value, label) tuples for SelectChoice
    from wtforms.fields.choices import SelectChoice as _SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    _SelectChoice = None

PREFIX = "p_"


def choice(value: str, label: str):
    """One select option, in the form the installed WTForms prefers."""
    return _SelectChoice(value, label) if _SelectChoice is not None else (value, label)


def choices_of(pairs) -> list:
    return [choice(value, label) for value, label in pairs]


@dataclass(frozen=True)
class Param:
    """One generated input. ``key`` is what ``submit`` receives and names in its errors."""

    key: str
    name: str  # the schema attribute (``event_choices`` and the loaded params use it)
    form_name: str
    label: str
    kind: str  # text | number | boolean | select | multi | lines | datetime | date
    required: bool
    cast: Callable[[str], Any] | None = None


def _default(mf: fields.Field) -> Any:
    value = mf.load_default
    if value is missing:
        return None
    return value() if callable(value) else value


def _choices(mf: fields.Field) -> list[tuple[str, str]] | None:
    """Choices from metadata ``choices`` (values or (value, label) pairs) or a OneOf validator."""
    listed = mf.metadata.get("choices")
    if listed:
        return [(str(c[0]), str(c[1])) if isinstance(c, (tuple, list)) else (str(c), str(c)) for c in listed]
    for v in mf.validators:
        if isinstance(v, validate.OneOf):
            return [(str(value), str(label)) for value, label in v.options()]
    return None


def _number_attrs(mf: fields.Field, integer: bool) -> dict[str, Any]:
    """HTML min/max/step from a Range validator, so the browser helps before the core decides."""
    attrs: dict[str, Any] = {"step": 1 if integer else "any"}
    for v in mf.validators:
        if isinstance(v, validate.Range):
            if v.min is not None and (v.min_inclusive or integer):
                attrs["min"] = v.min if v.min_inclusive else v.min + 1
            if v.max is not None and (v.max_inclusive or integer):
                attrs["max"] = v.max if v.max_inclusive else v.max - 1
    return attrs


def _max_length(mf: fields.Field) -> dict[str, Any]:
    for v in mf.validators:
        if isinstance(v, validate.Length) and v.max is not None:
            return {"maxlength": v.max}
    return {}


def _cast_of(mf: fields.Field) -> Callable[[str], Any] | None:
    if isinstance(mf, fields.Integer):
        return int
    if isinstance(mf, (fields.Float, fields.Decimal)):
        return float
    return None


def _field(name: str, mf: fields.Field, event_values: list[str] | None) -> tuple[Param, UnboundField]:
    key = mf.data_key or name
    label = mf.metadata.get("label") or name.replace("_", " ").capitalize()
    kw: dict[str, Any] = {"label": label, "description": mf.metadata.get("description", ""), "render_kw": {}}
    default = _default(mf)
    inner = mf.inner if isinstance(mf, fields.List) else None
    target = inner or mf
    options = [(v, v) for v in event_values] if event_values is not None else _choices(target)
    if mf.required and not isinstance(mf, fields.Boolean) and not (inner is not None and options is not None):
        kw["render_kw"]["required"] = True  # a checkbox list cannot say "at least one": the core does
    if inner is not None and options is not None:
        kind = "multi"
        unbound = SelectMultipleField(choices=choices_of(options), default=[str(d) for d in default or ()],
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), **kw)
    elif inner is not None:
        kind = "lines"
        said = (kw["description"] or "").strip()
        if "a line" not in said and "per line" not in said:  # the plugin may already say how
            kw["description"] = (said.rstrip(".") + ". " if said else "") + "One value per line."
        unbound = TextAreaField(default="\n".join(map(str, default or ())), **kw)
    elif options is not None:
        kind = "select"
        blank = [] if default is not None else [("", "— choose —" if mf.required else "— none —")]
        unbound = SelectField(choices=choices_of(blank + options), default="" if default is None else str(default), **kw)
    elif isinstance(mf, fields.Boolean):
        kind = "boolean"
        unbound = BooleanField(default=bool(default), **kw)
    else:
        kind, widget = "text", None
        if isinstance(mf, fields.Number):
            kind, widget = "number", NumberInput(**_number_attrs(mf, isinstance(mf, fields.Integer)))
        elif isinstance(mf, fields.DateTime):
            kind, widget = "datetime", DateTimeLocalInput()
        elif isinstance(mf, fields.Date):
            kind, widget = "date", DateInput()
        elif isinstance(mf, fields.Email):
            widget = EmailInput()
        elif isinstance(mf, fields.Url):
            widget = URLInput()
        else:
            kw["render_kw"].update(_max_length(mf))
        if widget is not None:
            kw["widget"] = widget
        unbound = StringField(default="" if default is None else str(default), **kw)
    param = Param(key=key, name=name, form_name=PREFIX + key, label=label, kind=kind,
                  required=bool(mf.required), cast=_cast_of(target))
    return param, unbound


def _ordered(schema_fields: dict[str, fields.Field]) -> list[tuple[str, fields.Field]]:
    """Fields with metadata ``order`` first (by it), then the rest in declaration order."""
    items = list(schema_fields.items())
    return [item for _, item in sorted(
        enumerate(items), key=lambda pair: (0, pair[1][1].metadata["order"], pair[0])
        if "order" in pair[1][1].metadata else (1, 0, pair[0]))]


def generate(job_type: JobType, event_choices: dict[str, list[str]]) -> list[tuple[Param, UnboundField]]:
    """A (Param, unbound field) per input of the job type; ``event_choices`` is the core's
    ``event_choices(session, event)`` (empty at account level)."""
    out = []
    for name, mf in _ordered(job_type.params_schema().load_fields):
        catalogue = job_type.event_choices.get(name) or job_type.event_choices.get(mf.data_key or name)
        values = event_choices.get(catalogue) if catalogue else None
        out.append(_field(name, mf, values))
    return out


def generate_for_schema(schema_cls: type[Schema]) -> list[tuple[Param, UnboundField]]:
    """A (Param, unbound field) per input of any schema without event catalogues, e.g. an
    application's connection schema on the plugins page."""
    return [_field(name, mf, None) for name, mf in _ordered(schema_cls().load_fields)]


def _cast(cast: Callable[[str], Any] | None, value: str) -> Any:
    if cast is None:
        return value
    try:
        return cast(value)
    except ValueError:
        return value  # the core says why ("Not a valid integer."), next to the field


def values(form, params: list[Param]) -> dict[str, Any]:
    """The params dict for ``submit``: blanks left out, so defaults apply and required fields
    are reported missing by the core rather than guessed here."""
    out: dict[str, Any] = {}
    for p in params:
        field = form[p.form_name]
        raw = [v.strip() for v in (field.raw_data or []) if isinstance(v, str)]
        if p.kind == "boolean":
            out[p.key] = bool(field.data)
        elif p.kind == "multi":
            chosen = [v for v in raw if v]
            if chosen:
                out[p.key] = [_cast(p.cast, v) for v in chosen]
        elif p.kind == "lines":
            lines = [line.strip() for line in (raw[0] if raw else "").splitlines() if line.strip()]
            if lines:
                out[p.key] = [_cast(p.cast, v) for v in lines]
        elif raw and raw[0]:
            out[p.key] = _cast(p.cast, raw[0])
    return out


def describe(job_type: JobType | None, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for showing a job's stored params in schema order."""
    labels: dict[str, str] = {}
    if job_type is not None:
        for name, mf in _ordered(job_type.params_schema().fields):
            labels[mf.data_key or name] = mf.metadata.get("label") or name.replace("_", " ").capitalize()
    keys = [k for k in labels if k in params] + [k for k in params if k not in labels]
    return [(labels.get(k, k), _show(params[k])) for k in keys]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return "—" if value in (None, "") else str(value)
