"""Helpers the outbound job tests share (their fixture, ``programme_harness``, is in conftest)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connectors.db import transaction
from connectors.models import Profile, Registration, utcnow

ATTENDEES = 320  # two Sync Leads calls: 300 + 20


def edit_registration(harness, code, status=None, later=False, **profile_fields):
    """Change a registration (its status, or its profile's fields) as the admin would."""
    with transaction(harness.factory) as s:
        reg = s.scalar(select(Registration).where(Registration.registration_code == code))
        if status is not None:
            reg.status_label, reg.version = status, reg.version + 1
        if later:
            reg.date_modified = utcnow() + timedelta(hours=1)
        profile = s.get(Profile, reg.profile_id)
        for name, value in profile_fields.items():
            setattr(profile, name, value)


def registrations_by_email(harness):
    return {r["email"]: r for r in harness.registrations()}


def sync_calls(sandbox, since=0):
    """Sync Leads calls Marketo carried out (after the first ``since`` journal entries)."""
    return [c for c in sandbox.journal.entries()[since:] if c.method == "POST" and c.path == "/rest/v1/leads.json"
            and c.status == 200 and not c.codes]


def sent(calls, field="email"):
    return [record[field] for call in calls for record in call.body["input"]]


