"""Import Marketo Leads as Profiles (certain.md §5.3): the account-level twin of Import Marketo
Leads as Registrations.

The members of a static list become profiles of the account, with no event and no registration:
the same list resolution, field check and checkpointed reading (REST pages, or a bulk export for
large lists: ``import_registrations.import_list``), so a run that stops resumes after its last
saved page, and re-running creates nothing twice (profiles are matched by Marketo lead id first).
"""
from __future__ import annotations

from typing import Any

from connectors import JobContext, JobType

from .common import client_for_run, fields_to_read, marketo_errors, resolve_list, upsert_lead_profiles
from .import_registrations import ImportRegistrationsParams, import_list

KEY = "marketo.import_leads_as_profiles"


class ImportProfilesParams(ImportRegistrationsParams):
    """The registrations import's list, match rule, paging and read mode; nothing about registrations."""

    class Meta:
        exclude = ("attendee_type_code", "status_label", "overwrite_status")


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    client = client_for_run(ctx)
    state = ctx.checkpoint.load() or {}
    if state.get("finished"):
        ctx.log.info("the last page was already imported")
        return
    with marketo_errors("Pages imported so far are kept."):
        static_list = state.get("list") or resolve_list(client, params)
        import_list(ctx, client, params, static_list, fields_to_read(ctx, client), state, _import_page)


def _import_page(ctx: JobContext, leads: list[dict[str, Any]], params: dict[str, Any]) -> None:
    for result in upsert_lead_profiles(ctx, leads, params["match_on"]):
        ctx.record(result.key, result.outcome, result.code, result.message, stage="profile")


IMPORT_PROFILES = JobType(
    key=KEY,
    label="Import Marketo Leads as Profiles",
    application="marketo",
    scope="account",
    params_schema=ImportProfilesParams,
    run=run,
    description="Creates or updates the account's profiles from the members of a Marketo static list.",
)
