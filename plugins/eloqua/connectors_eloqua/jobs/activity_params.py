"""The parameters of the three "Create Eloqua Activity upon … Status Change" jobs (spec §8, 6-8).

The status -> activity type mapping is typed one pair a line (``Attended = Attended``), so the
generated New Job form can offer it as a text area; the JSON API may send an object as well.
The asset name is a template over the event's facts (``{event_name}``, ``{session_name}`` …);
an unknown placeholder is refused when the job is submitted, naming the ones there are.
"""
from __future__ import annotations

import string
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

#: placeholders every asset name template may use; the session and agenda-item jobs add theirs
COMMON_PLACEHOLDERS = ("event_code", "event_name", "registration_code", "status", "attendee_type")
SUBJECT_PLACEHOLDERS = {"session": ("session_code", "session_name"), "agenda_item": ("item_code", "item_name")}


class StatusActivities(fields.List):
    """``{"Attended": "Attended", "No-show": "No Show"}``, typed as ``Status = Activity type`` lines."""

    def __init__(self, **kwargs: Any):
        super().__init__(fields.String(), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, str]:
        pairs = value.items() if isinstance(value, dict) else [_split(line) for line in _lines(value)]
        mapping: dict[str, str] = {}
        for status, activity in pairs:
            status, activity = str(status).strip(), str(activity).strip()
            if not status or not activity:
                raise ValidationError(f"{status or activity!r}: give a status and an activity type, as 'Attended = Attended'")
            if status in mapping:
                raise ValidationError(f"status {status!r} is mapped twice")
            mapping[status] = activity
        if not mapping:
            raise ValidationError("map at least one status to an activity type")
        return mapping

    def deserialize(self, value: Any, attr: Any = None, data: Any = None, **kwargs: Any) -> Any:
        """The default is given as lines too (what the form shows): it is read like typed lines."""
        result = super().deserialize(value, attr, data, **kwargs)
        return self._deserialize(result, attr, data) if isinstance(result, list) else result

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> list[str] | None:
        if value is None:
            return None
        return lines(dict(value))


def lines(mapping: dict[str, str]) -> list[str]:
    return [f"{status} = {activity}" for status, activity in mapping.items()]


def _lines(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, (list, tuple)):
        raise ValidationError("a list of 'Status = Activity type' lines")
    return [str(v) for v in value if str(v).strip()]


def _split(line: str) -> tuple[str, str]:
    status, sep, activity = line.partition("=")
    if not sep:
        raise ValidationError(f"{line.strip()!r}: write 'Status = Activity type'")
    return status, activity


def template_validator(placeholders: tuple[str, ...]):
    def check(value: str) -> None:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValidationError(f"not a valid template ({exc}); write e.g. '{{event_name}}'") from None
        unknown = sorted({n for n in names if n not in placeholders})
        if unknown or any(n == "" for n in names):
            raise ValidationError(f"unknown placeholder {', '.join('{' + n + '}' for n in unknown) or '{}'}; "
                                  f"use {', '.join('{' + p + '}' for p in placeholders)}")
    return check


def params_schema(*, subject: str | None, asset_type: str, template: str, activities: dict[str, str],
                  statuses: tuple[str, ...] | None) -> type[Schema]:
    """The schema of one of the three jobs; ``statuses`` fixes the status choices (sessions and
    agenda items), None takes them from the event (registrations)."""
    placeholders = COMMON_PLACEHOLDERS + SUBJECT_PLACEHOLDERS.get(subject or "", ())
    default_asset_type, default_template = asset_type, template
    filter_meta = {
        "label": "Only these statuses", "order": 5,
        "description": "Status changes to other statuses are ignored; none ticked: every mapped status"}
    one_of = (fields.String(validate=validate.OneOf(statuses, labels=statuses)) if statuses is not None
              else fields.String())

    class ActivityParams(Schema):
        asset_type = fields.String(load_default=default_asset_type, validate=validate.Length(min=1, max=100), metadata={
            "label": "External asset type", "order": 1,
            "description": "As configured in Eloqua (Settings > External Assets); it must exist"})
        asset_name_template = fields.String(load_default=default_template, validate=[
            validate.Length(min=1, max=200), template_validator(placeholders)], metadata={
            "label": "Asset name", "order": 2,
            "description": "Template of the external asset's name: " + ", ".join("{" + p + "}" for p in placeholders)})
        status_activities = StatusActivities(load_default=lambda: lines(activities), metadata={
            "label": "Activity type per status", "order": 3,
            "description": "One 'Status = Activity type' a line; the activity types must exist under the asset type. "
                           "A status not listed takes the plugin configuration's status mapping (Third-Party "
                           "Plugins page), else it is ignored"})
        campaign_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
            "label": "Campaign ID", "order": 4, "description": "Optional: an active Eloqua campaign the activities count for"})
        status_filter = fields.List(one_of, load_default=None, allow_none=True, metadata=filter_meta)
        create_missing_contacts = fields.Boolean(load_default=False, metadata={
            "label": "Create missing contacts", "order": 6,
            "description": "Create the Eloqua contact when no contact has the attendee's email (else the change waits, parked)"})

    return ActivityParams
