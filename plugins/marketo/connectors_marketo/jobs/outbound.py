"""What the outbound jobs (Certain -> Marketo) share: which registrations they select, how a
registration reads to the field mapping, and how they name records and keep lead ids."""
from __future__ import annotations

from typing import Any, Iterable

from connectors import (  # the selection helpers are re-exported for the job modules
    REGISTRATION_FILTER_CHOICES, JobContext, Mappings, RegistrationFilterParams, RegistrationView,
    mapping_source, registration_filters, registration_key,
)

from .common import LEAD_ID_SYSTEM

__all__ = ["EXPECTED_SKIPS", "FILTER_CHOICES", "OutboundMapper", "REGISTRATION_SOURCES", "RegistrationFilterParams",
           "chunked", "lead_id_of", "link_lead_ids", "mapping_source", "reason_of", "registration_filters",
           "registration_key"]


#: Marketo's per-record codes that follow from the chosen action (not found for updateOnly,
#: exists for createOnly): the record was left alone on purpose, not refused
EXPECTED_SKIPS = frozenset({"1004", "1005"})


#: kept under this name for the job modules that import it from here
FILTER_CHOICES = REGISTRATION_FILTER_CHOICES


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
