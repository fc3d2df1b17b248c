"""What the outbound jobs (Certain -> Eloqua) share: which registrations they select, how a
registration reads to the field mapping, how records are named, and how Eloqua contact ids are
kept on profiles."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from connectors import (  # the selection helpers are re-exported for the job modules
    REGISTRATION_FILTER_CHOICES, JobContext, RegistrationFilterParams, RegistrationView, mapping_source,
    registration_filters, registration_key,
)

from .common import CONTACT_ID_SYSTEM

__all__ = ["FILTER_CHOICES", "RegistrationFilterParams", "fingerprint", "known_contact_id", "link_contact_ids",
           "mapping_source", "registration_filters", "registration_key"]


#: kept under this name for the job modules that import it from here
FILTER_CHOICES = REGISTRATION_FILTER_CHOICES


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
