"""What the outbound jobs (Certain -> Eloqua) share: which registrations they select, how a
registration reads to the field mapping, how records are named, and how Eloqua contact ids are
kept on profiles."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from marshmallow import Schema, fields

from connectors import JobContext, JobFailed, RegistrationView

from .common import CONTACT_ID_SYSTEM

#: the filters' choices come from the event (the form shows them as checkboxes; submit checks them)
FILTER_CHOICES = {"status_labels": "registration_statuses", "attendee_types": "attendee_types"}


class RegistrationFilterParams(Schema):
    """The registration filters every outbound job offers (empty: all)."""

    status_labels = fields.List(fields.String(), load_default=None, allow_none=True, metadata={
        "label": "Registration statuses", "order": 10,
        "description": "Only registrations with one of these statuses (empty: all)"})
    attendee_types = fields.List(fields.String(), load_default=None, allow_none=True, metadata={
        "label": "Attendee types", "order": 11, "description": "Only registrations of these attendee types (empty: all)"})


def registration_filters(ctx: JobContext, params: dict[str, Any]) -> dict[str, list[str] | None]:
    """``iter_registrations`` filters from the params, checked against the event's catalogue so
    a mistyped status fails the run instead of silently selecting nobody."""
    statuses, types = params.get("status_labels") or None, params.get("attendee_types") or None
    _check_known("registration status", statuses, ctx.store.status_labels())
    _check_known("attendee type", types, ctx.store.attendee_type_codes())
    return {"status_labels": statuses, "attendee_types": types}


def _check_known(what: str, chosen: Iterable[str] | None, known: Iterable[str]) -> None:
    known = list(known)
    unknown = [value for value in chosen or () if value not in known]
    if unknown:
        raise JobFailed(f"The event has no {what} {', '.join(map(repr, unknown))}; it has {', '.join(known)}.",
                        code=f"unknown_{what.replace(' ', '_')}")


def registration_key(view: RegistrationView) -> str:
    """How a registration is named in the run's records: its code, and its email when it has one."""
    email = view.profile.get("email")
    return f"{view.registration_code} <{email}>" if email else view.registration_code


def mapping_source(view: RegistrationView) -> dict[str, Any]:
    """The registration as the outbound mapping reads it: ``profile.*`` and ``registration.*``."""
    record = {f"profile.{name}": value for name, value in view.profile.items()}
    record.update({"registration.registration_code": view.registration_code,
                   "registration.status_label": view.status_label,
                   "registration.attendee_type_code": view.attendee_type_code})
    return record


def fingerprint(*parts: Any) -> str:
    """A short stable digest of what was sent (the job ledger compares them)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]


def known_contact_id(view: RegistrationView) -> str | None:
    value = view.external_ids.get(CONTACT_ID_SYSTEM)
    return str(value) if value not in (None, "") else None


def link_contact_ids(ctx: JobContext, links: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Keep Eloqua contact ids on the profiles (``{record key: (registration code, contact id)}``);
    returns the failed links by record key (an id already on another profile)."""
    if not links:
        return {}
    rows = [{"key": key, "registration_code": code, "external_ids": {CONTACT_ID_SYSTEM: str(contact_id)}}
            for key, (code, contact_id) in links.items()]
    return {r.key: r for r in ctx.store.link_external_ids(rows) if r.outcome == "failed"}
