"""Import Marketo Leads as Registrations (spec §8.1).

The members of one Marketo static list become profiles and registrations of the event, one page
at a time. Each page commits with its checkpoint (the next page token), so an attempt that dies
resumes after the last saved page; profiles are matched by Marketo lead id first, so running the
job again creates nothing twice.

Large lists are read through a Bulk Lead Extract instead (spec §4.1): one export of the list,
streamed in batches of ``BULK_BATCH`` rows, each batch committed with ``{export_id, rows_done}``
so a run that dies resumes in the same export after its last committed row. ``mode=auto`` starts
with REST pages, exactly like ``rest``; once ``bulk_threshold`` leads are in and the list goes on,
it exports the list in bulk and skips the leads it already imported — Marketo cannot tell a
list's size up front, and this way no page read is wasted.

A retry run (``ctx.only_keys``) reads the leads asked for by id instead of the list, whether or
not they are still members: what failed was their import, not their membership.
"""
from __future__ import annotations

import re
import time
from contextlib import closing
from typing import Any, Callable, Iterator

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors import JobContext, JobType

from ..bulk import BulkExporter, ExportSpec, ResumableExport
from ..client import MarketoClient
from ..csvstream import BadRow
from ..responses import Page
from .common import (
    MATCH_RULES, SOURCE, client_for_run, fields_to_read, import_pages, marketo_errors, resolve_list,
    upsert_lead_profiles,
)
from .id_ranges import IdRanges

KEY = "marketo.import_leads_as_registrations"
MODES = ("auto", "rest", "bulk")
#: bulk rows imported and committed together
BULK_BATCH = 1000
#: extra ``BulkExporter`` options for runs; tests put the sandbox's bulk clock here as ``sleep``
BULK_OPTIONS: dict[str, Any] = {}
#: export status polls (Marketo refreshes it at most once a minute) and the longest wait
BULK_WAIT = {"poll_interval": 60.0, "deadline": 6 * 3600.0}
PageImporter = Callable[[JobContext, list[dict[str, Any]], dict[str, Any]], None]
#: a lead's record key (``common.lead_key``): its id, then its email
LEAD_KEY = re.compile(r"lead (\d+)(?: <|$)")


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
    mode = fields.String(load_default="auto", validate=validate.OneOf(MODES), metadata={
        "label": "Read mode", "order": 9,
        "description": "rest: page through the list (300 leads a call); bulk: one Bulk Lead Extract of the list "
                       "(few calls, but the export takes minutes); auto: rest, or bulk when the list has more "
                       "leads than the threshold below"})
    bulk_threshold = fields.Integer(load_default=5000, validate=validate.Range(min=1), metadata={
        "label": "Bulk threshold", "order": 10,
        "description": "In auto mode, lists with more leads than this are exported in bulk"})

    @validates_schema(skip_on_field_errors=False)  # report a missing list with the other errors
    def _one_list(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("static_list_name") is None) == (data.get("static_list_id") is None):
            raise ValidationError("Give the static list's name or its id (one of them).", "static_list_name")


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    client = client_for_run(ctx)
    state = ctx.checkpoint.load() or {}
    if state.get("finished"):
        ctx.log.info("the last page was already imported")
        return
    with marketo_errors("Leads imported so far are kept."):
        static_list = state.get("list") or resolve_list(client, params)
        import_list(ctx, client, params, static_list, fields_to_read(ctx, client), state, _import_page)


def import_list(ctx: JobContext, client: MarketoClient, params: dict[str, Any], static_list: dict[str, Any],
                wanted: list[str], state: dict[str, Any], import_page: PageImporter) -> None:
    """Read the list the way ``params["mode"]`` says into ``import_page``, committing after each
    page or bulk batch (a run resumed in a bulk export stays in it); a retry run reads only the
    leads asked for (``retry_leads``)."""
    if ctx.only_keys is not None:
        retry_leads(ctx, client, params, wanted, import_page)
        return
    mode = state.get("mode") or params["mode"]
    skip = {int(i) for i in state.get("rest_ids") or ()}  # leads this run imported through REST (auto mode)
    if mode == "auto":
        pages = _UpToThreshold(client, params["bulk_threshold"], state.get("done", 0), skip)
        _import_rest_pages(ctx, pages, params, static_list, wanted, state, import_page)
        if not pages.more:
            return
        ctx.log.info("the list has more than %s leads: exporting the rest in bulk", params["bulk_threshold"])
        mode, state, skip = "bulk", ctx.checkpoint.load() or {}, pages.ids
    if mode == "bulk":
        _BulkImport(ctx, params, static_list, state, import_page, skip).run(client, wanted)
    else:
        import_pages(ctx, client, params, static_list, wanted, state, import_page)


def _import_rest_pages(ctx: JobContext, pages: "_UpToThreshold", params: dict[str, Any], static_list: dict[str, Any],
                       wanted: list[str], state: dict[str, Any], import_page: PageImporter) -> None:
    """Auto mode's REST part: ``import_pages``, with the ids of the leads read so far in each
    page's checkpoint (``rest_ids``). A resumed attempt — in this part or in the bulk export that
    follows — skips exactly those, so no lead is imported (and counted) twice by the run."""
    remembering = _WithCheckpoint(ctx, _RememberingCheckpoint(ctx.checkpoint, pages.ids))
    import_pages(remembering, pages, params, static_list, wanted, state, import_page)


class _RememberingCheckpoint:
    """A checkpoint whose every save also names the leads read so far (``ids``, filled by
    ``_UpToThreshold`` as pages are served, before their save)."""

    def __init__(self, checkpoint: Any, ids: set[int]):
        self._checkpoint, self._ids = checkpoint, ids

    def load(self) -> dict[str, Any] | None:
        return self._checkpoint.load()

    def save(self, state: dict[str, Any]) -> None:
        self._checkpoint.save({**state, "rest_ids": sorted(self._ids)})


class _WithCheckpoint:
    """The run's context with another ``checkpoint`` (everything else is the context's own)."""

    def __init__(self, ctx: JobContext, checkpoint: Any):
        self._ctx, self.checkpoint = ctx, checkpoint

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


class _UpToThreshold:
    """The client's list pages until ``threshold`` leads were read and more remain (then
    ``more`` is set); keeps the ids served — with those of the attempts before, ``ids`` — so the
    bulk export that follows skips them."""

    def __init__(self, client: MarketoClient, threshold: int, done: int, ids: set[int] | None = None):
        self.client, self.threshold, self.seen = client, threshold, done
        self.more, self.ids = False, set(ids or ())

    def iter_list_members(self, *args: Any, **kwargs: Any) -> Iterator[Page]:
        for page in self.client.iter_list_members(*args, **kwargs):
            self.ids.update(int(lead["id"]) for lead in page.records)
            self.seen += len(page.records)
            yield page
            if page.next_page_token and self.seen >= self.threshold:
                self.more = True
                return


class _Cancelled(Exception):
    """The user asked the run to stop while it waited for Marketo's export."""


class _BulkImport:
    """The list through one bulk export, ``BULK_BATCH`` rows per commit. The checkpoint's
    ``bulk`` part, ``{export_id, rows_done}``, names the export and how many of its rows (bad
    ones included) are in; resuming re-streams that export from there, or — when it is gone —
    exports the list again and skips the leads this run already imported: their ids commit with
    each batch as ranges (``taken``, see ``id_ranges``; the new export's order need not be the
    old one's). Past ``MAX_RANGES`` scattered ids the run stops keeping them and a new export's
    known rows come back ``unchanged``."""

    def __init__(self, ctx: JobContext, params: dict[str, Any], static_list: dict[str, Any], state: dict[str, Any],
                 import_page: PageImporter, skip: set[int]):
        self.ctx, self.params, self.static_list, self.import_page = ctx, params, static_list, import_page
        self.skip = skip  # lead ids this run already imported through REST
        self.export = dict(state.get("bulk") or {"export_id": None, "rows_done": 0})
        self.done, self.batch, self.rows = state.get("done", 0), [], 0
        self.taken = IdRanges(state.get("taken"), tracking=state.get("taken", []) is not None)

    def run(self, client: MarketoClient, wanted: list[str]) -> None:
        options = dict(BULK_OPTIONS)
        options["sleep"] = self._sleep_unless_cancelled(options.get("sleep", time.sleep))
        spec = ExportSpec(tuple(wanted), {"staticListId": self.static_list["id"]})
        export = ResumableExport(BulkExporter(client, **options), spec, self.export, save=self._on_export,
                                 checkpoint_every=BULK_BATCH, on_bad_row=self._bad_row, **BULK_WAIT)
        if self.export["export_id"]:
            self.ctx.log.info("resuming export %s after %s rows", self.export["export_id"], self.export["rows_done"])
        limit = self.params.get("max_records")
        try:
            with closing(export.records()) as rows:
                for row in rows:
                    self.rows += 1
                    if int(row["id"]) in self.skip or int(row["id"]) in self.taken:
                        continue  # imported by this run already (through REST, or from an export now gone)
                    self.batch.append(dict(row, id=int(row["id"])))
                    if limit and self.done + len(self.batch) >= limit:
                        break
                    if len(self.batch) >= BULK_BATCH:
                        self._commit(finished=False)
                        if self.ctx.cancelled():
                            self.ctx.log.info("cancelled after %s leads", self.done)
                            return
        except _Cancelled:
            self.ctx.log.info("cancelled while waiting for export %s", self.export["export_id"])
            return
        self._commit(finished=True)
        self.ctx.log.info("imported %s leads from %r through export %s", self.done, self.static_list["name"],
                          self.export["export_id"])

    def _commit(self, finished: bool) -> None:
        if self.batch:
            self.import_page(self.ctx, self.batch, self.params)
            self.taken.add(row["id"] for row in self.batch)
        self.done += len(self.batch)
        self.export["rows_done"] += self.rows
        self.batch, self.rows = [], 0
        self.ctx.progress(self.done, self.params.get("max_records"))
        self._save(finished)

    def _save(self, finished: bool) -> None:
        state = {"list": self.static_list, "mode": "bulk", "bulk": dict(self.export), "done": self.done,
                 "finished": finished, "taken": self.taken.saved()}
        if self.skip:  # auto mode: a resumed attempt skips the REST leads too
            state["rest_ids"] = sorted(self.skip)
        self.ctx.checkpoint.save(state)

    def _on_export(self, state: dict[str, Any]) -> None:
        """``ResumableExport`` reports its state; only a new export is saved here (at once, so a
        crash resumes it instead of exporting again) — rows are saved when their batch commits."""
        if state["export_id"] == self.export["export_id"]:
            return
        if self.export["export_id"]:
            self.ctx.log.warning("export %s is gone: exporting the list again (the %s leads already imported are "
                                 "skipped)", self.export["export_id"], self.done)
        self.export = {"export_id": state["export_id"], "rows_done": 0}
        self.ctx.log.info("export %s of static list %r created", state["export_id"], self.static_list["name"])
        self._save(finished=False)

    def _bad_row(self, bad: BadRow) -> None:
        self.ctx.record(f"export row {bad.row_number}", "failed", "bad_row", bad.reason, stage="read")
        self.rows += 1

    def _sleep_unless_cancelled(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        def wait(seconds: float) -> None:
            if self.ctx.cancelled():
                raise _Cancelled
            sleep(seconds)
        return wait


def retry_leads(ctx: JobContext, client: MarketoClient, params: dict[str, Any], wanted: list[str],
                import_page: PageImporter) -> None:
    """A retry: the leads its keys name (``lead_key``), read by id (Get Leads by filter type id,
    300 a call) rather than the whole list, into ``import_page``; a lead Marketo no longer has is
    skipped. A key naming no lead (a bad row of a bulk export) cannot be asked for by itself."""
    ids = {int(m.group(1)): key for key in sorted(ctx.only_keys or ()) if (m := LEAD_KEY.match(key))}
    if len(ids) < len(ctx.only_keys or ()):
        ctx.log.warning("%s key(s) asked for name no Marketo lead (a bad export row): run the whole job again for "
                        "those", len(ctx.only_keys or ()) - len(ids))
    ctx.log.info("retry: reading %s lead(s) by id", len(ids))
    leads = client.get_leads("id", sorted(ids), fields=wanted) if ids else []
    for start in range(0, len(leads), BULK_BATCH):
        import_page(ctx, leads[start:start + BULK_BATCH], params)
    for lead_id in sorted(set(ids) - {int(lead["id"]) for lead in leads}):
        ctx.record(ids[lead_id], "skipped", "lead_not_found", f"Marketo has no lead {lead_id} anymore", stage="read")
    ctx.progress(len(ids), len(ids))
    ctx.checkpoint.save({"retry": True, "done": len(leads), "finished": True})


def _import_page(ctx: JobContext, leads: list[dict[str, Any]], params: dict[str, Any]) -> None:
    """Profiles first (matched by lead id, then the chosen rule), then their registrations."""
    registrations = [{"key": result.key, "profile_id": result.id, "source": SOURCE,
                      "attendee_type_code": params["attendee_type_code"], "status_label": params["status_label"]}
                     for result in upsert_lead_profiles(ctx, leads, params["match_on"])]
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
