"""Import Marketo Leads as Registrations (spec §8.1).

The members of one Marketo static list become profiles and registrations of the event, one page
at a time. Each page commits with its checkpoint (the next page token), so an attempt that dies
resumes after the last saved page; profiles are matched by Marketo lead id first, so running the
job again creates nothing twice.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors import JobContext, JobFailed, JobType

from ..errors import MarketoError, MarketoQuotaExhausted
from .common import LEAD_ID_SYSTEM, SOURCE, client_for_run, lead_key

KEY = "marketo.import_leads_as_registrations"
MATCH_RULES = ("email", "external_key", "none")


class ImportRegistrationsParams(Schema):
    static_list_name = fields.String(load_default=None, allow_none=True, metadata={
        "label": "Static list name", "order": 1,
        "description": "Exact name of the Marketo static list whose members to import (or give its id)"})
    static_list_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Static list id", "order": 2, "description": "Marketo id of the static list, instead of its name"})
    attendee_type_code = fields.String(load_default="Attendee", metadata={
        "label": "Attendee type", "order": 3, "description": "Attendee type of the new registrations"})
    status_label = fields.String(load_default="New", metadata={
        "label": "Registration status", "order": 4, "description": "Status of the new registrations"})
    overwrite_status = fields.Boolean(load_default=False, metadata={
        "label": "Overwrite status", "order": 5,
        "description": "Set the status above on registrations that already exist (else they are left as they are)"})
    match_on = fields.String(load_default="email", validate=validate.OneOf(MATCH_RULES), metadata={
        "label": "Find existing profiles by", "order": 6,
        "description": "email, external_key, or none (always create a new profile); the Marketo lead id is tried first"})
    page_size = fields.Integer(load_default=300, validate=validate.Range(1, 300), metadata={
        "label": "Page size", "order": 7, "description": "Leads read per Marketo call (1-300)"})
    max_records = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Maximum leads", "order": 8, "description": "Stop after this many leads (empty: all)"})

    @validates_schema(skip_on_field_errors=False)  # report a missing list with the other errors
    def _one_list(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("static_list_name") is None) == (data.get("static_list_id") is None):
            raise ValidationError("Give the static list's name or its id (one of them).", "static_list_name")


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    client = client_for_run(ctx)
    state = ctx.checkpoint.load() or {}
    try:
        if state.get("finished"):
            ctx.log.info("the last page was already imported")
            return
        static_list = state.get("list") or _resolve_list(client, params)
        wanted = _fields_to_read(ctx, client)
        _import_pages(ctx, client, params, static_list, wanted, state)
    except MarketoQuotaExhausted as exc:
        raise JobFailed(f"Marketo's API budget is used up ({exc.code}: {exc.message}). Pages imported so far are "
                        "kept; run the job again later to import the rest.", code="quota_exhausted") from exc
    except MarketoError as exc:
        raise JobFailed(f"Marketo error {exc.code}: {exc.message}", code=exc.code) from exc


def _resolve_list(client, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("static_list_id") is not None:
        try:
            found = client.get_list(params["static_list_id"])
        except MarketoError as exc:
            if exc.code == "1013":
                raise JobFailed(f"Marketo has no static list with id {params['static_list_id']}.", code="1013") from exc
            raise
        return {"id": found["id"], "name": found.get("name")}
    name = params["static_list_name"]
    found = client.get_lists(name=name)
    if not found:
        raise JobFailed(f"Marketo has no static list named {name!r}.", code="list_not_found")
    if len(found) > 1:
        ids = ", ".join(str(r["id"]) for r in found)
        raise JobFailed(f"{len(found)} Marketo static lists are named {name!r} (ids {ids}); give the list id instead.",
                        code="ambiguous_list")
    return {"id": found[0]["id"], "name": found[0]["name"]}


def _fields_to_read(ctx: JobContext, client) -> list[str]:
    """The mapped Marketo fields plus id and email, checked against the lead schema first so a
    wrong mapping fails the run at once instead of on every lead."""
    mapped = ctx.mappings.remote_fields("inbound")
    known = {f["rest"]["name"] for f in client.describe_leads() if f.get("rest")}
    unknown = [name for name in mapped if name not in known]
    if unknown:
        raise JobFailed(f"The field mapping names Marketo lead field(s) that do not exist: {', '.join(unknown)}.",
                        code="unknown_field")
    return list(dict.fromkeys(["id", "email", *mapped]))


def _import_pages(ctx: JobContext, client, params: dict[str, Any], static_list: dict[str, Any],
                  wanted: list[str], state: dict[str, Any]) -> None:
    done, limit = state.get("done", 0), params.get("max_records")
    if not state:
        ctx.log.info("importing static list %r (id %s)", static_list["name"], static_list["id"])
    else:
        ctx.log.info("resuming static list %r after %s leads", static_list["name"], done)
    pages = client.iter_list_members(static_list["id"], wanted, batch_size=params["page_size"],
                                     next_page_token=state.get("next_page_token"))
    for page in pages:
        leads = page.records[: limit - done] if limit else page.records
        _import_page(ctx, leads, params)
        done += len(leads)
        finished = not page.next_page_token or bool(limit and done >= limit)
        ctx.progress(done, limit)
        ctx.checkpoint.save({"list": static_list, "next_page_token": page.next_page_token, "done": done,
                             "finished": finished})
        if finished:
            ctx.log.info("imported %s leads from %r", done, static_list["name"])
            return
        if ctx.cancelled():
            ctx.log.info("cancelled after %s leads", done)
            return


def _import_page(ctx: JobContext, leads: list[dict[str, Any]], params: dict[str, Any]) -> None:
    """Profiles first (matched by lead id, then the chosen rule), then their registrations."""
    rows = []
    for lead in leads:
        missing = ctx.mappings.missing_required("inbound", ctx.mappings.apply("inbound", lead))
        if missing:
            ctx.record(lead_key(lead), "skipped", "missing_required",
                       f"Marketo lead {lead['id']} has no value for {', '.join(missing)}", stage="map")
            continue
        rows.append({"key": lead_key(lead), "fields": ctx.mappings.apply("inbound", lead, prefix="profile"),
                     "external_ids": {LEAD_ID_SYSTEM: str(lead["id"])}})
    registrations = []
    for result in ctx.store.upsert_profiles(rows, match_on=params["match_on"], policies=ctx.mappings.policies("inbound")):
        if result.outcome in ("skipped", "failed"):
            ctx.record(result.key, result.outcome, result.code, result.message, stage="profile")
        else:
            registrations.append({"key": result.key, "profile_id": result.id, "source": SOURCE,
                                  "attendee_type_code": params["attendee_type_code"], "status_label": params["status_label"]})
    for result in ctx.store.upsert_registrations(registrations, overwrite_status=params["overwrite_status"]):
        ctx.record(result.key, result.outcome, result.code, result.message, stage="registration")


IMPORT_REGISTRATIONS = JobType(
    key=KEY,
    label="Import Marketo Leads as Registrations",
    application="marketo",
    scope="event",
    params_schema=ImportRegistrationsParams,
    run=run,
    description="Registers the members of a Marketo static list for this event, creating or updating their profiles.",
    event_choices={"attendee_type_code": "attendee_types", "status_label": "registration_statuses"},
)
