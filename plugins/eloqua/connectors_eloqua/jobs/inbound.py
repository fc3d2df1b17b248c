"""Eloqua contacts into Certain (spec §8 job 1, §3.4): which contacts (a shared list, a segment,
an EEL filter, changed since the last successful run), which of their fields (the inbound
mappings, checked against Eloqua's contact fields first, plus the contact id and its last
change), and one Bulk export of them read a page at a time.

After each page the checkpoint holds the bookmark ``{export: {definition, sync, filter},
offset, done}`` and commits with what the page wrote, so an attempt that dies resumes in the
same export after the last saved page. If the export's data is gone by then (retention over),
the same contacts are exported again and read from its first row, skipping the contacts this run
already imported: their ids commit with each page as ranges (``taken``, see ``id_ranges``), as
a new export need not list them in the same order. Past ``MAX_RANGES`` scattered ids the run
stops keeping them and a new export's known rows come back ``unchanged``.

A retry run (``ctx.only_keys``) exports only the contacts its keys name: their ids join the
export filter while it stays within Eloqua's 1000 characters, and the rows read are kept to them.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors import JobContext, JobFailed, QuotaExhausted, UpsertResult

from ..client import EloquaClient
from ..errors import EloquaError, EloquaRateLimited, ExportExpired
from .bulk_runs import RETENTION, definition_name, forget, resume_or_start_sync, wait_for
from .common import CONTACT_ID_SYSTEM
from .id_ranges import IdRanges

#: export columns of the contact's id and last change (mapped fields keep their internal names)
ID_COLUMN, UPDATED_COLUMN = "ContactId", "ContactUpdatedAt"
MAX_EXPORT_FIELDS = 250
#: incremental runs re-read contacts changed this long before the last run started: clocks of two
#: systems never agree to the second, and a contact read twice only comes back unchanged
INCREMENTAL_OVERLAP = timedelta(minutes=5)
#: what a user's filter may be long (Eloqua takes 1000 characters; the job adds the rest)
MAX_USER_FILTER = 800
#: the longest export filter Eloqua takes
MAX_FILTER = 1000
#: a contact's record key (``contact_key``): its id, then its email
_CONTACT_KEY = re.compile(r"contact (\d+)(?: <|$)")
_MEMBERSHIP = re.compile(r"\b(EXISTS|STATUS)\s*\(", re.IGNORECASE)
RowsImporter = Callable[[JobContext, list[dict[str, Any]], dict[str, Any]], None]


class ContactSourceParams(Schema):
    """Which Eloqua contacts to read, and how."""

    contact_list_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Contact list id", "order": 1, "description": "Import the members of this Eloqua shared list"})
    contact_list_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                                      metadata={"label": "Contact list name", "order": 2,
                                                "description": "Or the exact name of the shared list"})
    segment_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Segment id", "order": 3, "description": "Or the members of this Eloqua segment"})
    filter = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=MAX_USER_FILTER),
                           metadata={"label": "Filter (EEL)", "order": 4,
                                     "description": "Or contacts matching an Eloqua export filter, e.g. "
                                                    "'{{Contact.Field(C_Country)}}' = 'France'; with a list or "
                                                    "segment it narrows their members"})
    incremental = fields.Boolean(load_default=False, metadata={
        "label": "Only contacts changed since the last run", "order": 5,
        "description": "Read only contacts Eloqua changed since this job's last successful run began"})
    update_profiles = fields.Boolean(load_default=True, metadata={
        "label": "Update existing profiles", "order": 6,
        "description": "Write the mapped Eloqua fields onto profiles that exist (by each mapping's update policy); "
                       "off: existing profiles only get the Eloqua contact id"})
    page_size = fields.Integer(load_default=5000, validate=validate.Range(1, 50_000), metadata={
        "label": "Page size", "order": 7, "description": "Contacts read and saved together (1-50,000)"})
    max_records = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Maximum contacts", "order": 8, "description": "Export at most this many contacts (empty: all)"})

    @validates_schema(skip_on_field_errors=False)
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        chosen = [k for k in ("contact_list_id", "contact_list_name", "segment_id") if data.get(k) is not None]
        if len(chosen) > 1:
            raise ValidationError("Give one of the contact list id, the contact list name or the segment id.",
                                  chosen[1])
        if not chosen and not data.get("filter"):
            raise ValidationError("Give a contact list (id or name), a segment id or a filter.", "contact_list_id")
        if chosen and data.get("filter") and _MEMBERSHIP.search(data["filter"]):
            raise ValidationError("Eloqua allows one EXISTS or STATUS per filter, and the list or segment is one: "
                                  "leave it out of the filter.", "filter")


# -- what to export ------------------------------------------------------------------------------
def export_fields(ctx: JobContext, client: EloquaClient) -> dict[str, str]:
    """Column -> statement: the mapped contact fields (checked against Eloqua's, so a wrong
    mapping fails the run before anything is read), the contact id and its last change."""
    if "profile.email" not in ctx.mappings.certain_fields("inbound"):
        raise JobFailed("No inbound field mapping fills profile.email: map the Eloqua email address "
                        "(C_EmailAddress) to it; profiles are found by email.", code="no_email_mapping")
    known = {f["internalName"].lower(): f for f in client.bulk_contact_fields() if f.get("internalName")}
    mapped = list(dict.fromkeys(ctx.mappings.remote_fields("inbound")))
    unknown = [name for name in mapped if name.lower() not in known]
    if unknown:
        raise JobFailed(f"The field mapping names Eloqua contact field(s) that do not exist: {', '.join(unknown)} "
                        "(use internal names such as C_EmailAddress).", code="unknown_field")
    columns = {name: _statement(known[name.lower()]) for name in mapped}
    columns.update({ID_COLUMN: "{{Contact.Id}}", UPDATED_COLUMN: "{{Contact.UpdatedAt}}"})
    if len(columns) > MAX_EXPORT_FIELDS:
        raise JobFailed(f"{len(columns) - 2} mapped fields: an Eloqua export takes at most {MAX_EXPORT_FIELDS - 2} "
                        "besides the contact id and its last change.", code="too_many_fields")
    return columns


def _statement(field: dict[str, Any]) -> str:
    return field.get("statement") or "{{Contact.Field(%s)}}" % field["internalName"]


def export_filter(client: EloquaClient, params: dict[str, Any], since: datetime | None,
                  contact_ids: list[str] | None = None) -> str:
    """The EEL filter: membership, the user's filter, for incremental runs the last change, and
    for a retry its contacts' ids when they fit in Eloqua's 1000 characters (else the rows read
    are filtered, ``retry_contact_ids``)."""
    parts = []
    if params.get("contact_list_id") is not None or params.get("contact_list_name"):
        parts.append("EXISTS('{{ContactList[%d]}}')" % resolve_list_id(client, params))
    elif params.get("segment_id") is not None:
        parts.append("EXISTS('{{ContactSegment[%d]}}')" % params["segment_id"])
    ids = "(%s)" % " OR ".join("'{{Contact.Id}}' = '%s'" % i for i in contact_ids) if contact_ids else ""
    if params.get("filter"):
        parts.append(f"({params['filter']})" if parts or since or ids else params["filter"])
    if since is not None:
        moment = (since - INCREMENTAL_OVERLAP).astimezone(timezone.utc)
        parts.append("'{{Contact.UpdatedAt}}' > '%s'" % moment.strftime("%Y-%m-%d %H:%M:%S"))
    if ids and len(" AND ".join([*parts, ids])) <= MAX_FILTER:
        parts.append(ids)
    return " AND ".join(parts)


def retry_contact_ids(ctx: JobContext) -> list[str] | None:
    """The Eloqua contact ids a retry run's keys name (``contact_key``); None on other runs."""
    if ctx.only_keys is None:
        return None
    return sorted({m.group(1) for key in ctx.only_keys if (m := _CONTACT_KEY.match(key))}, key=int)


def resolve_list_id(client: EloquaClient, params: dict[str, Any]) -> int:
    if params.get("contact_list_id") is not None:
        return int(params["contact_list_id"])
    name = params["contact_list_name"]
    found = [r for r in client.bulk_contact_lists(name) if str(r.get("name", "")).lower() == name.lower()]
    if not found:
        raise JobFailed(f"Eloqua has no shared contact list named {name!r}.", code="list_not_found")
    if len(found) > 1:
        raise JobFailed(f"{len(found)} Eloqua contact lists are named {name!r}: give the list id instead.",
                        code="ambiguous_list")
    return int(str(found[0]["uri"]).rsplit("/", 1)[-1])


# -- reading it ------------------------------------------------------------------------------------
class ContactExport:
    """One export of the chosen contacts, read page by page into ``import_rows`` (see the module doc)."""

    def __init__(self, ctx: JobContext, client: EloquaClient, params: dict[str, Any], import_rows: RowsImporter):
        self.ctx, self.client, self.params, self.import_rows = ctx, client, params, import_rows
        self.state: dict[str, Any] = dict(ctx.checkpoint.load() or {})
        self.retry_ids = retry_contact_ids(ctx)  # a retry reads only these contacts
        self.taken = IdRanges(self.state.get("taken"), tracking=self.state.get("taken", []) is not None)

    def run(self) -> None:
        ctx, state = self.ctx, self.state
        if state.get("finished"):
            ctx.log.info("the last page was already imported")
            return
        try:
            self._run()
        except (EloquaRateLimited, QuotaExhausted):
            raise  # the next run resumes this export: keep it
        except (EloquaError, JobFailed):
            forget(self.client, (state.get("export") or {}).get("definition"))
            raise

    def _run(self) -> None:
        ctx, state = self.ctx, self.state
        export = state.get("export")
        if export is None:
            if self.retry_ids == []:
                ctx.log.warning("none of the keys asked for names an Eloqua contact: nothing to retry")
                return self._save(finished=True)
            since = ctx.since if self.params["incremental"] else None
            export_text = export_filter(self.client, self.params, since, self.retry_ids)
            ctx.log.info("exporting contacts %s", f"where {export_text}" if export_text else "(all)")
            export = self._begin(export_fields(ctx, self.client), export_text)
        elif "sync" not in export:
            export = self._begin(export_fields(ctx, self.client), export["filter"], export.get("definition"))
        else:
            ctx.log.info("resuming export %s after %s contacts", export["sync"], state.get("offset", 0))
        renewed = False
        while True:
            try:
                if not self._read(export):
                    return  # cancelled
                break
            except ExportExpired:
                if renewed:
                    raise
                renewed = True
                ctx.log.warning("the data of export %s is gone: exporting the same contacts again", export["sync"])
                forget(self.client, export["definition"])
                export = self._begin(export_fields(ctx, self.client), export["filter"], again=True)
        forget(self.client, export["definition"])
        self._save(finished=True)
        ctx.log.info("imported %s contacts through export %s", state.get("done", 0), export["sync"])

    def _begin(self, columns: dict[str, str], export_text: str, definition_uri: str | None = None,
               again: bool = False) -> dict[str, Any]:
        """Create the definition (unless an earlier attempt did) and its sync, saving each as it exists."""
        if definition_uri is None:
            body: dict[str, Any] = {
                "name": definition_name(self.ctx, "contact import" + (" again" if again else "")),
                "fields": columns, "filter": export_text, "areSystemTimestampsInUTC": True,
                "dataRetentionDuration": RETENTION, "autoDeleteDuration": RETENTION}
            if self.params.get("max_records"):
                body["maxRecords"] = self.params["max_records"]
            if not export_text:
                body.pop("filter")
            definition_uri = self.client.create_definition("contacts/exports", body)["uri"]
            self.state.update(export={"definition": definition_uri, "filter": export_text}, offset=0,
                              done=self.state.get("done", 0) if again else 0)
            self._save()
            sync = self.client.start_sync(definition_uri)
        else:  # an earlier attempt made the definition and may have started its sync
            sync = resume_or_start_sync(self.client, definition_uri)
        self.state["export"] = {**self.state["export"], "sync": sync["uri"]}
        self._save()
        return self.state["export"]

    def _read(self, export: dict[str, Any]) -> bool:
        """Import the export's pages from the bookmark on; False if the user cancelled."""
        ctx, state = self.ctx, self.state
        wait_for(self.client, export["sync"])
        pages = self.client.export_pages(export["sync"], limit=self.params["page_size"], offset=state.get("offset", 0))
        wanted = set(self.retry_ids) if self.retry_ids is not None else None
        for page in pages:
            fresh = [r for r in page.items if r.get(ID_COLUMN) not in self.taken]  # not from an export now gone
            items = [r for r in fresh if str(r.get(ID_COLUMN)) in wanted] if wanted is not None else fresh
            if items:
                self.import_rows(ctx, items, self.params)
                self.taken.add(int(r[ID_COLUMN]) for r in items if str(r.get(ID_COLUMN) or "").isdigit())
            state.update(offset=page.next_offset, done=state.get("done", 0) + len(fresh))
            ctx.progress(state["done"], page.total)
            self._save()
            if page.has_more and ctx.cancelled():
                ctx.log.info("cancelled after %s contacts", state["done"])
                forget(self.client, export["definition"])
                return False
        return True

    def _save(self, finished: bool = False) -> None:
        self.state.update(finished=finished, taken=self.taken.saved())
        self.ctx.checkpoint.save(dict(self.state))


# -- rows into profiles --------------------------------------------------------------------------------
def contact_key(row: dict[str, Any], email: Any) -> str:
    """How a contact is named in the run's records: its id, and its email when it has one."""
    return f"contact {row.get(ID_COLUMN)} <{email}>" if email else f"contact {row.get(ID_COLUMN)}"


def upsert_contact_profiles(ctx: JobContext, rows: list[dict[str, Any]], update_profiles: bool) -> list[UpsertResult]:
    """Profiles for a page of contacts, found by Eloqua contact id first, then by email. Contacts
    that cannot become a profile are recorded here; the others' results are returned."""
    batch = []
    for row in rows:
        mapped = ctx.mappings.apply("inbound", row)
        key = contact_key(row, mapped.get("profile.email"))
        if not mapped.get("profile.email"):
            ctx.record(key, "skipped", "no_email", f"Eloqua contact {row.get(ID_COLUMN)} has no email address",
                       stage="map")
            continue
        missing = ctx.mappings.missing_required("inbound", mapped)
        if missing:
            ctx.record(key, "skipped", "missing_required",
                       f"Eloqua contact {row.get(ID_COLUMN)} has no value for {', '.join(missing)}", stage="map")
            continue
        batch.append({"key": key, "fields": ctx.mappings.apply("inbound", row, prefix="profile"),
                      "external_ids": {CONTACT_ID_SYSTEM: str(row.get(ID_COLUMN) or "")}})
    policies = ctx.mappings.policies("inbound")
    if not update_profiles:
        policies = {name: "never" for name in policies}
    done = []
    for result in ctx.store.upsert_profiles(batch, match_on="email", policies=policies):
        if result.outcome in ("skipped", "failed"):
            ctx.record(result.key, result.outcome, result.code, result.message, stage="profile")
        else:
            done.append(result)
    return done
