"""The one schema of a bus message, used by the writer (the outbox) and by every reader.

A message is the envelope ``{id, type, version, occurred_at, payload}`` (ARCHITECTURE §5) whose
payload has the shape of its type. The outbox checks a payload against its type's schema when
it writes the row, and the worker and the dispatcher check what they receive with the same
schemas before it reaches a claim or a window: a message no retry can fix (a string where an id
belongs, an id past what the database can hold, an unknown type) is rejected alone, with the
reason, and its neighbours go on.

Integers are bounded by the columns they name (PostgreSQL ``integer``): an unbounded id would
pass here and fail inside the claim, where it looks like a database outage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate

from .errors import flatten_messages
from .models.base import MAX_ID
from .storable import storable

VERSION = 1
MAX_ATTEMPT = 10_000
MAX_MESSAGE_ID = 200

RUN_REQUESTED = "run.requested"
PLUGIN_TASK_REQUESTED = "plugin.task.requested"
REGISTRATION_STATUS_CHANGED = "registration.status_changed"
SESSION_STATUS_CHANGED = "session_registration.status_changed"
AGENDA_ITEM_STATUS_CHANGED = "agenda_item_registration.status_changed"
STATUS_EVENT_TYPES = (REGISTRATION_STATUS_CHANGED, SESSION_STATUS_CHANGED, AGENDA_ITEM_STATUS_CHANGED)
COMMAND_TYPES = (RUN_REQUESTED, PLUGIN_TASK_REQUESTED)


class MalformedMessage(ValueError):
    """A message no retry can fix: wrong shape, type, bounds or version. ``str()`` names each
    field and its reason."""


def _id(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kwargs)


class RunRequestedPayload(Schema):
    class Meta:
        unknown = RAISE

    run_id = _id(required=True)
    attempt = fields.Integer(strict=True, required=True, validate=validate.Range(0, MAX_ATTEMPT))


class PluginTaskRequestedPayload(Schema):
    class Meta:
        unknown = RAISE

    task_id = _id(required=True)


class StatusChangedPayload(Schema):
    """What the dispatcher relies on; the rest (profile, subject, actor, …) travels as it is."""

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True, validate=[validate.Length(1, MAX_MESSAGE_ID), storable])
    type = fields.String(required=True, validate=validate.OneOf(STATUS_EVENT_TYPES))
    account_code = fields.String(required=True, validate=storable)
    event_code = fields.String(required=True, validate=storable)
    registration_code = fields.String(required=True, validate=storable)


PAYLOADS: dict[str, type[Schema]] = {
    RUN_REQUESTED: RunRequestedPayload,
    PLUGIN_TASK_REQUESTED: PluginTaskRequestedPayload,
    **{t: StatusChangedPayload for t in STATUS_EVENT_TYPES},
}


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=[validate.Length(1, MAX_MESSAGE_ID), storable])
    type = fields.String(required=True, validate=validate.OneOf(tuple(PAYLOADS)))
    version = fields.Integer(strict=True, required=True, validate=validate.Equal(VERSION))
    occurred_at = fields.String(required=True, validate=validate.Length(max=64))
    payload = fields.Dict(required=True)


_ENVELOPE = EnvelopeSchema()
_PAYLOAD_SCHEMAS = {name: schema() for name, schema in PAYLOADS.items()}


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    occurred_at: str
    payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "version": VERSION, "occurred_at": self.occurred_at,
                "payload": self.payload}


def _load(schema: Schema, data: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedMessage(f"{prefix or 'envelope'}: must be a JSON object, not {type(data).__name__}")
    try:
        return schema.load(data)
    except ValidationError as exc:
        reasons = flatten_messages(exc.messages, prefix)
        raise MalformedMessage("; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in sorted(reasons.items()))) from None


def check_payload(message_type: str, payload: Any) -> dict[str, Any]:
    """The payload as its type's schema loads it; ``MalformedMessage`` when it does not fit."""
    schema = _PAYLOAD_SCHEMAS.get(message_type)
    if schema is None:
        raise MalformedMessage(f"type: unknown message type {message_type!r}")
    return _load(schema, payload, "payload")


def read(body: Any, *, expect: tuple[str, ...] | None = None) -> Envelope:
    """A received body (decoded JSON) as an ``Envelope`` whose payload fits its type;
    ``expect`` names the types this queue carries."""
    loaded = _load(_ENVELOPE, body, "")
    if expect is not None and loaded["type"] not in expect:
        raise MalformedMessage(f"type: {loaded['type']!r} does not belong on this queue")
    payload = check_payload(loaded["type"], loaded["payload"])
    return Envelope(loaded["id"], loaded["type"], loaded["occurred_at"], payload)


def write(message_id: str, message_type: str, occurred_at: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The envelope a writer sends; raises ``MalformedMessage`` rather than send what no reader
    would accept (a programming error on the writer's side)."""
    envelope = Envelope(message_id, message_type, occurred_at, payload).as_dict()
    read(envelope)
    return envelope
