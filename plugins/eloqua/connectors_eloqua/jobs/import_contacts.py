"""Import Eloqua Contacts as Registrations (event) and as Profiles (account) (spec §8 job 1).

The chosen contacts (a shared list, a segment or an EEL filter; optionally only those changed
since the last successful run) come out of one Bulk export (``inbound.ContactExport``), a page
at a time. Each contact becomes a profile — found by its Eloqua contact id first, then by email,
and keeping that id (``eloqua_contact_id``) — and, for the event job, a registration with the
status and attendee type given (an existing registration keeps its status unless told
otherwise). Each page commits with its bookmark, so an attempt that dies resumes after the last
saved page, and running the job again creates nothing twice.
"""
from __future__ import annotations

from typing import Any

from marshmallow import fields

from connectors import JobContext, JobType

from .bulk_runs import throttling_resumes
from .common import SOURCE, client_for_run, eloqua_errors
from .inbound import ContactExport, ContactSourceParams, RowsImporter, upsert_contact_profiles

REGISTRATIONS_KEY = "eloqua.import_contacts_as_registrations"
PROFILES_KEY = "eloqua.import_contacts_as_profiles"


class ImportRegistrationsParams(ContactSourceParams):
    attendee_type_code = fields.String(load_default="Attendee", metadata={
        "label": "Attendee type", "order": 9, "description": "Attendee type of the new registrations"})
    status_label = fields.String(load_default="New", metadata={
        "label": "Registration status", "order": 10, "description": "Status of the new registrations"})
    overwrite_status = fields.Boolean(load_default=False, metadata={
        "label": "Overwrite status", "order": 11,
        "description": "Set the status above on registrations that already exist (else they keep theirs)"})


def run_registrations(ctx: JobContext, params: dict[str, Any]) -> None:
    _run(ctx, params, import_registrations)


def run_profiles(ctx: JobContext, params: dict[str, Any]) -> None:
    _run(ctx, params, import_profiles)


def _run(ctx: JobContext, params: dict[str, Any], import_rows: RowsImporter) -> None:
    client = client_for_run(ctx)
    kept = "Contacts imported so far are kept."
    with eloqua_errors(kept), throttling_resumes(kept):
        ContactExport(ctx, client, params, import_rows).run()


def import_registrations(ctx: JobContext, rows: list[dict[str, Any]], params: dict[str, Any]) -> None:
    """Profiles first, then their registrations in the event. A contact whose registration
    stays as it was but whose profile changed counts as updated."""
    profiles = {r.key: r for r in upsert_contact_profiles(ctx, rows, params["update_profiles"])}
    registrations = [{"key": result.key, "profile_id": result.id, "source": SOURCE,
                      "attendee_type_code": params["attendee_type_code"], "status_label": params["status_label"]}
                     for result in profiles.values()]
    for result in ctx.store.upsert_registrations(registrations, overwrite_status=params["overwrite_status"]):
        outcome = result.outcome
        if outcome == "unchanged" and profiles[result.key].outcome in ("created", "updated"):
            outcome = "updated"
        ctx.record(result.key, outcome, result.code, result.message, stage="registration")


def import_profiles(ctx: JobContext, rows: list[dict[str, Any]], params: dict[str, Any]) -> None:
    for result in upsert_contact_profiles(ctx, rows, params["update_profiles"]):
        ctx.record(result.key, result.outcome, result.code, result.message, stage="profile")


IMPORT_REGISTRATIONS = JobType(
    key=REGISTRATIONS_KEY,
    label="Import Eloqua Contacts as Registrations",
    application="eloqua",
    scope="event",
    params_schema=ImportRegistrationsParams,
    run=run_registrations,
    description="Registers Eloqua contacts (a shared list, a segment or a filter) for this event, creating or "
                "updating their profiles.",
    event_choices={"attendee_type_code": "attendee_types", "status_label": "registration_statuses"},
)

IMPORT_PROFILES = JobType(
    key=PROFILES_KEY,
    label="Import Eloqua Contacts as Profiles",
    application="eloqua",
    scope="account",
    params_schema=ContactSourceParams,
    run=run_profiles,
    description="Creates or updates the account's profiles from Eloqua contacts (a shared list, a segment or a "
                "filter).",
)

JOB_TYPES = (IMPORT_REGISTRATIONS, IMPORT_PROFILES)
