"""Create or Update Contacts in Eloqua (spec §8 job 3).

The event's registrations, mapped through the outbound field mapping, go to Eloqua in Bulk
contact imports keyed on ``C_EmailAddress`` (Eloqua upserts: an existing contact with that email
is updated by the chosen update rule, a new one is created), optionally adding every accepted
contact to a shared list through a sync action. Eloqua refuses an email twice in one sync, so
each email is sent once per run: the registration modified last wins and the others are recorded
as skipped naming it. Empty values are left out rather than sent as "null" (rudder-server#3996).

Incremental runs select registrations changed since the last successful run and send only those
whose row changed since this job last sent it (the job ledger keeps a fingerprint per
registration): linking contact ids back touches the profiles, so the watermark alone would send
everything again. How batches are imported, checkpointed and resumed is in ``contact_import.py``.
"""
from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, JobType, RegistrationView

from ..client import EloquaClient
from ..errors import EloquaNotFound
from .bulk_batches import release
from .bulk_runs import throttling_resumes
from .common import client_for_run, eloqua_errors
from .contact_import import ContactBatches, Planned
from .outbound import FILTER_CHOICES, RegistrationFilterParams, fingerprint, mapping_source, registration_filters

KEY = "eloqua.create_update_contacts"
EMAIL_FIELD = "C_EmailAddress"
#: Eloqua refuses import definitions with more fields (spec §3.6)
MAX_IMPORT_FIELDS = 100
UPDATE_RULES = ("always", "ifNewIsNotNull")


class CreateUpdateContactsParams(RegistrationFilterParams):
    update_rule = fields.String(load_default="always", validate=validate.OneOf(UPDATE_RULES), metadata={
        "label": "Update rule", "order": 1,
        "description": "always: Eloqua takes every value sent; ifNewIsNotNull: only values that are not empty "
                       "(empty values are never sent either way)"})
    contact_list = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200), metadata={
        "label": "Add to contact list", "order": 2,
        "description": "Name or id of an Eloqua shared list every contact sent is added to (empty: none)"})
    incremental = fields.Boolean(load_default=True, metadata={
        "label": "Only changed registrations", "order": 3,
        "description": "Send only registrations changed since the last successful run, and of those only the ones "
                       "whose contact data changed since this job last sent them"})
    batch_size = fields.Integer(load_default=5000, validate=validate.Range(min=1, max=50_000), metadata={
        "label": "Contacts per import", "order": 4,
        "description": "Contacts per Bulk import sync (uploads are split further to stay under 32 MB)"})


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    filters = registration_filters(ctx, params)
    release(ctx)  # no transaction open while Eloqua is called (see bulk_batches)
    client = client_for_run(ctx)
    since = ctx.since if params["incremental"] else None
    if since is not None:
        ctx.log.info("sending registrations changed since %s", since.isoformat())
    kept = "Contacts imported so far are kept."
    with eloqua_errors(kept), throttling_resumes(kept):
        columns = contact_columns(ctx, client)
        destination = list_statement(client, params["contact_list"]) if params.get("contact_list") else None
        definition = {"fields": columns, "identifierFieldName": EMAIL_FIELD, "updateRule": params["update_rule"],
                      "isSyncTriggeredOnImport": False, "dataRetentionDuration": "P1D"}
        if destination:
            definition["syncActions"] = [{"action": "add", "destination": destination}]
        batches = ContactBatches(ctx, client, params, definition, lambda view: plan(ctx, params, view, destination))
        batches.finish_pending()
        winners, total = _winners(ctx, params, filters, since, destination)
        batches.send(ctx.store.iter_registrations(**filters, modified_since=since, after=batches.skip_upto),
                     winners, total)


def contact_columns(ctx: JobContext, client: EloquaClient) -> dict[str, str]:
    """``{internal name: statement}`` of the mapped contact fields, checked against Eloqua's
    contact fields first so a wrong mapping fails the run before anything is sent."""
    mapped = list(dict.fromkeys(ctx.mappings.remote_fields("outbound")))
    if EMAIL_FIELD not in mapped:
        raise JobFailed(f"The outbound field mapping must map a Certain field (usually profile.email) to {EMAIL_FIELD}: "
                        "Eloqua matches contacts on it.", code="email_not_mapped")
    if len(mapped) > MAX_IMPORT_FIELDS:
        raise JobFailed(f"The outbound field mapping has {len(mapped)} Eloqua fields; a Bulk import takes at most "
                        f"{MAX_IMPORT_FIELDS} (email included): map fewer.", code="too_many_fields")
    described = {f["internalName"]: f for f in client.bulk_contact_fields() if f.get("internalName")}
    unknown = [name for name in mapped if name not in described]
    if unknown:
        raise JobFailed(f"Eloqua has no contact field(s) {', '.join(unknown)}: fix the outbound field mapping "
                        "(it takes internal names such as C_FirstName).", code="unknown_field")
    read_only = [name for name in mapped if described[name].get("hasReadOnlyConstraint")]
    if read_only:
        raise JobFailed(f"Eloqua contact field(s) {', '.join(read_only)} are read-only and cannot be written: fix the "
                        "outbound field mapping.", code="read_only_field")
    return {name: described[name].get("statement") or "{{Contact.Field(%s)}}" % name for name in mapped}


def list_statement(client: EloquaClient, chosen: str) -> str:
    """``{{ContactList[id]}}`` of the list named (or numbered) ``chosen``; fails when there is
    no such list or the name is ambiguous."""
    chosen = chosen.strip()
    if chosen.isdigit():
        try:
            client.get_contact_list(int(chosen))
        except EloquaNotFound as exc:
            raise JobFailed(f"Eloqua has no contact list with id {chosen}.", code="list_not_found") from exc
        return "{{ContactList[%d]}}" % int(chosen)
    found = [r for r in client.bulk_contact_lists(chosen) if str(r.get("name", "")).lower() == chosen.lower()]
    if not found:
        raise JobFailed(f"Eloqua has no shared contact list named {chosen!r}: create it in Eloqua (Audience > Shared "
                        "Lists) or fix the parameter.", code="list_not_found")
    if len(found) > 1:
        raise JobFailed(f"{len(found)} Eloqua contact lists are named {chosen!r}: give the list id instead.",
                        code="ambiguous_list")
    return found[0]["statement"]


def plan(ctx: JobContext, params: dict[str, Any], view: RegistrationView, destination: str | None) -> Planned:
    """The contact row of one registration, or why it cannot be sent."""
    mapped = ctx.mappings.apply("outbound", mapping_source(view))
    row = {name: value for name, value in mapped.items() if value is not None and str(value).strip() != ""}
    email = str(row.get(EMAIL_FIELD) or "").strip()
    if not email:
        return Planned(view, row, code="missing_email", message=f"no email address to send as {EMAIL_FIELD}")
    row[EMAIL_FIELD] = email
    missing = ctx.mappings.missing_required("outbound", row)
    if missing:
        return Planned(view, row, code="missing_required", message=f"no value for {', '.join(missing)}")
    return Planned(view, row, key=email.casefold(), fingerprint=fingerprint(row, params["update_rule"], destination))


def _winners(ctx: JobContext, params: dict[str, Any], filters: dict[str, Any], since, destination
             ) -> tuple[dict[str, tuple[float, int, str]], int]:
    """First pass: per email, the registration modified last (position breaks ties)."""
    winners: dict[str, tuple[float, int, str]] = {}
    total = 0
    for batch in ctx.store.iter_registrations(**filters, modified_since=since):
        for view in batch:
            total += 1
            planned = plan(ctx, params, view, destination)
            if planned.key is None:
                continue
            rank = (view.date_modified.timestamp() if view.date_modified else 0.0, view.position, view.registration_code)
            if planned.key not in winners or rank > winners[planned.key]:
                winners[planned.key] = rank
    return winners, total


CREATE_UPDATE_CONTACTS = JobType(
    key=KEY,
    label="Create or Update Contacts in Eloqua",
    application="eloqua",
    scope="event",
    params_schema=CreateUpdateContactsParams,
    run=run,
    description="Sends the event's registrations to Eloqua as contacts (created or updated by email through Bulk "
                "imports), optionally adds them to a shared list, and keeps each contact's id on its profile.",
    event_choices=FILTER_CHOICES,
)
JOB_TYPES = (CREATE_UPDATE_CONTACTS,)
