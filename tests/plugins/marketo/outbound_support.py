"""Helpers the outbound job tests share (their fixture, ``programme_harness``, is in conftest)."""
from __future__ import annotations

from connectors.testing import edit_registration, registrations_by_email  # re-exported for the job tests

__all__ = ["ATTENDEES", "edit_registration", "registrations_by_email", "sent", "sync_calls"]

ATTENDEES = 320  # two Sync Leads calls: 300 + 20


def sync_calls(sandbox, since=0):
    """Sync Leads calls Marketo carried out (after the first ``since`` journal entries)."""
    return [c for c in sandbox.journal.entries()[since:] if c.method == "POST" and c.path == "/rest/v1/leads.json"
            and c.status == 200 and not c.codes]


def sent(calls, field="email"):
    return [record[field] for call in calls for record in call.body["input"]]
