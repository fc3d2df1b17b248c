"""What the outbound jobs (Certain -> Marketo) share: which registrations they select, how a
registration reads to the field mapping, and how they name records and keep lead ids."""
from __future__ import annotations

from typing import Any, Iterable

from marshmallow import Schema, fields

from connectors import JobContext, JobFailed, Mappings, RegistrationView

from .common import LEAD_ID_SYSTEM

#: Marketo's per-record codes that follow from the chosen action (not found for updateOnly,
#: exists for createOnly): the record was left alone on purpose, not refused
EXPECTED_SKIPS = frozenset({"1004", "1005"})


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


#: the registration's own fields that ``mapping_source`` offers, by the attribute holding each
REGISTRATION_SOURCES = {f"registration.{name}": name for name in ("registration_code", "status_label", "attendee_type_code")}


class OutboundMapper:
    """The outbound mapping resolved once per run: ``payload(view)`` equals
    ``ctx.mappings.apply("outbound", mapping_source(view))`` with empty values left out (never
    blank a lead field), but reads each mapped field straight from the registration, without
    building the source dict for every one of them."""

    def __init__(self, mappings: Mappings):
        self._reads = []  # (from the profile?, field or attribute, remote field, convert), in mapping order
        for source, target, convert in mappings.rules("outbound"):
            obj, _, name = source.partition(".")
            if obj == "profile":
                self._reads.append((True, name, target, convert))
            elif source in REGISTRATION_SOURCES:
                self._reads.append((False, REGISTRATION_SOURCES[source], target, convert))

    def payload(self, view: RegistrationView) -> dict[str, Any]:
        profile, out = view.profile, {}
        for from_profile, name, target, convert in self._reads:
            if from_profile:
                if name not in profile:
                    continue
                value = convert(profile[name])
            else:
                value = convert(getattr(view, name))
            if value is None or value == "":
                out.pop(target, None)  # as apply would: a later mapping of the same field overrides
            else:
                out[target] = value
        return out


def lead_id_of(view: RegistrationView) -> int | None:
    value = view.external_ids.get(LEAD_ID_SYSTEM)
    return int(value) if value not in (None, "") else None


def link_lead_ids(ctx: JobContext, links: dict[str, tuple[RegistrationView, int]]) -> dict[str, Any]:
    """Keep Marketo lead ids on the profiles (``{record key: (registration, lead id)}``); returns
    the failed links by record key (an id already on another profile)."""
    if not links:
        return {}
    rows = [{"key": key, "registration_code": view.registration_code, "external_ids": {LEAD_ID_SYSTEM: str(lead_id)}}
            for key, (view, lead_id) in links.items()]
    return {r.key: r for r in ctx.store.link_external_ids(rows) if r.outcome == "failed"}


def reason_of(result: dict[str, Any]) -> tuple[str, str]:
    """Marketo's code and message for a skipped record (its first reason; all messages)."""
    reasons = result.get("reasons") or [{}]
    code = str(reasons[0].get("code", "unknown"))
    message = "; ".join(str(r.get("message", "")) for r in reasons if r.get("message")) or "skipped by Marketo"
    return code, message


def chunked(items: list[Any], size: int) -> Iterable[list[Any]]:
    return (items[i:i + size] for i in range(0, len(items), size))
