"""Which registrations an outbound job sends, and how it names them: the filters every outbound
job offers (a params schema to inherit, checked against the event), a registration's name in the
run's records, and the registration as an outbound field mapping reads it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from marshmallow import Schema, fields

from .plugin_api import JobFailed

if TYPE_CHECKING:  # pragma: no cover
    from .jobs.context import JobContext
    from .store import RegistrationView

#: the longest registration code (``Registration.registration_code``)
CODE_LENGTH = 64
#: the filters' choices come from the event (the form shows them as checkboxes; submit checks them)
REGISTRATION_FILTER_CHOICES = {"status_labels": "registration_statuses", "attendee_types": "attendee_types"}


class RegistrationFilterParams(Schema):
    """The registration filters every outbound job offers (empty: all); inherit it."""

    status_labels = fields.List(fields.String(), load_default=None, allow_none=True, metadata={
        "label": "Registration statuses", "order": 10,
        "description": "Only registrations with one of these statuses (empty: all)"})
    attendee_types = fields.List(fields.String(), load_default=None, allow_none=True, metadata={
        "label": "Attendee types", "order": 11, "description": "Only registrations of these attendee types (empty: all)"})


def registration_filters(ctx: "JobContext", params: dict[str, Any]) -> dict[str, list[str] | None]:
    """``iter_registrations`` filters from the params, checked against the event's catalogue so
    a mistyped status fails the run instead of silently selecting nobody. On a retry run
    (``ctx.only_keys``) they also narrow, in SQL, to the registrations the asked-for keys name."""
    statuses, types = params.get("status_labels") or None, params.get("attendee_types") or None
    _check_known("registration status", statuses, ctx.store.status_labels())
    _check_known("attendee type", types, ctx.store.attendee_type_codes())
    filters = {"status_labels": statuses, "attendee_types": types}
    if ctx.only_keys is not None:
        filters["registration_codes"] = registration_codes_of(ctx.only_keys)
        ctx.log.info("retry: only the registrations of the %s record key(s) asked for", len(ctx.only_keys))
    return filters


def _check_known(what: str, chosen: Iterable[str] | None, known: Iterable[str]) -> None:
    known = list(known)
    unknown = [value for value in chosen or () if value not in known]
    if unknown:
        raise JobFailed(f"The event has no {what} {', '.join(map(repr, unknown))}; it has {', '.join(known)}.",
                        code=f"unknown_{what.replace(' ', '_')}")


def registration_key(view: "RegistrationView") -> str:
    """How a registration is named in the run's records: its code, and its email when it has one."""
    email = view.profile.get("email")
    return f"{view.registration_code} <{email}>" if email else view.registration_code


def registration_codes_of(keys: Iterable[str]) -> list[str]:
    """The registration codes record keys may name. A key starts with the code, then a space
    (``registration_key``'s ``CODE <email>``, a metrics job's ``CODE tag``); a code may hold
    spaces itself, so every prefix ending before a space is a candidate, and the whole key."""
    codes: set[str] = set()
    for key in keys:
        codes.add(key[:CODE_LENGTH])
        codes.update(key[:at] for at, char in enumerate(key[:CODE_LENGTH + 1]) if char == " " and at)
    return sorted(codes)


def key_identity(key: str) -> str:
    """What stays of a registration's key when its email is fixed: the part before `` <``
    (other keys are their own identity); how a retry's fate is matched to the asked-for key."""
    code, sep, _ = key.partition(" <")
    return code if sep else key


def mapping_source(view: "RegistrationView") -> dict[str, Any]:
    """The registration as the outbound mapping reads it: ``profile.*`` and ``registration.*``."""
    record = {f"profile.{name}": value for name, value in view.profile.items()}
    record.update({"registration.registration_code": view.registration_code,
                   "registration.status_label": view.status_label,
                   "registration.attendee_type_code": view.attendee_type_code})
    return record
