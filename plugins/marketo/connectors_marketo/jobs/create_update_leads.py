"""Create or Update Leads in Marketo (spec §8.3).

The event's registrations, mapped through the outbound field mapping, go to Sync Leads
(createOrUpdate) 300 at a time, with the registration code in a lead field (``certainAttendeeId``)
that the metrics jobs link on. Marketo creates a lead twice when one key arrives in two
near-simultaneous calls, so every lookup key is sent at most once per run (the last modified
registration wins) and chunks go one after the other. Lead ids come back onto the profiles.

Resuming: each chunk commits with its checkpoint (the last registration position handled) and
its ledger entries (per registration, a fingerprint of what was sent, its status and attendee
type). The incremental mode selects registrations changed since the last successful run and
sends only those whose fingerprint changed: linking lead ids back touches every profile, so the
watermark alone would send everything again on the next run; and a run resuming after a quota
stop sends nothing twice.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, JobType, RegistrationView

from ..client import MarketoClient
from .common import client_for_run, marketo_errors
from .outbound import (
    FILTER_CHOICES, EXPECTED_SKIPS, RegistrationFilterParams, link_lead_ids, mapping_source, reason_of, registration_filters,
    registration_key,
)

KEY = "marketo.create_update_leads"
CHUNK_SIZE = 300  # Sync Leads' input limit


class CreateUpdateLeadsParams(RegistrationFilterParams):
    lookup_field = fields.String(load_default="email", validate=validate.Length(min=1), metadata={
        "label": "Lookup field", "order": 1,
        "description": "Marketo lead field that finds an existing lead (it must be mapped or be the attendee id field)"})
    partition_name = fields.String(load_default=None, allow_none=True, metadata={
        "label": "Lead partition", "order": 2, "description": "Marketo lead partition for new leads (empty: the default)"})
    attendee_id_field = fields.String(load_default="certainAttendeeId", allow_none=True, metadata={
        "label": "Attendee id lead field", "order": 3,
        "description": "Marketo lead field that receives the registration code (the metrics jobs link on it)"})
    incremental = fields.Boolean(load_default=True, metadata={
        "label": "Only changed registrations", "order": 4,
        "description": "Send only registrations changed since the last successful run"})
    max_records = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Maximum leads", "order": 5, "description": "Send at most this many leads per run (empty: all)"})


@dataclass(frozen=True)
class Planned:
    """One registration, mapped: a lead to send (``key`` set) or a reason it cannot be sent."""

    view: RegistrationView
    payload: dict[str, Any]
    key: str | None = None
    fingerprint: str | None = None
    code: str | None = None
    message: str | None = None


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    client = client_for_run(ctx)
    filters = registration_filters(ctx, params)
    since = ctx.since if params["incremental"] else None
    if since is not None:
        ctx.log.info("sending registrations changed since %s", since.isoformat())
    with marketo_errors("Leads sent so far are kept."):
        _check_fields(ctx, client, params)
        winners, total = _winners(ctx, params, filters, since)
        sender = _Sender(ctx, client, params, winners)
        sender.send(ctx.store.iter_registrations(**filters, modified_since=since, after=sender.skip_upto), total)


def _fields_sent(ctx: JobContext, params: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*ctx.mappings.remote_fields("outbound"), *filter(None, [params["attendee_id_field"]])]))


def _check_fields(ctx: JobContext, client: MarketoClient, params: dict[str, Any]) -> None:
    """Fail before sending anything when a field we would write is unknown or read-only."""
    sent = _fields_sent(ctx, params)
    if params["lookup_field"] not in sent:
        raise JobFailed(f"The lookup field {params['lookup_field']!r} is neither mapped (outbound) nor the attendee "
                        "id field, so no lead would carry it.", code="lookup_not_mapped")
    described = {f["rest"]["name"]: f["rest"] for f in client.describe_leads() if f.get("rest")}
    unknown = [name for name in sent if name not in described]
    if unknown:
        raise JobFailed(f"Marketo has no lead field(s) {', '.join(unknown)}: fix the outbound field mapping "
                        "or the attendee id field.", code="unknown_field")
    read_only = [name for name in sent if described[name].get("readOnly")]
    if read_only:
        raise JobFailed(f"Marketo lead field(s) {', '.join(read_only)} are read-only and cannot be written: "
                        "fix the outbound field mapping.", code="read_only_field")


def _plan(ctx: JobContext, params: dict[str, Any], view: RegistrationView) -> Planned:
    mapped = ctx.mappings.apply("outbound", mapping_source(view))
    payload = {name: value for name, value in mapped.items() if value not in (None, "")}  # never blank a lead field
    if params["attendee_id_field"]:
        payload[params["attendee_id_field"]] = view.registration_code
    lookup = params["lookup_field"]
    if payload.get(lookup) in (None, ""):
        return Planned(view, payload, code=f"missing_{lookup}", message=f"no value for the lookup field {lookup}")
    missing = ctx.mappings.missing_required("outbound", payload)
    if missing:
        return Planned(view, payload, code="missing_required", message=f"no value for {', '.join(missing)}")
    sent = json.dumps([payload, lookup, params["partition_name"], view.status_label, view.attendee_type_code],
                      sort_keys=True, default=str)
    return Planned(view, payload, key=str(payload[lookup]).strip().casefold(),
                   fingerprint=hashlib.sha256(sent.encode()).hexdigest()[:40])


def _winners(ctx: JobContext, params: dict[str, Any], filters: dict[str, Any], since) -> tuple[dict[str, Any], int]:
    """First pass: per lookup key, the registration modified last (position breaks ties)."""
    winners: dict[str, tuple[float, int, str]] = {}
    total = 0
    for batch in ctx.store.iter_registrations(**filters, modified_since=since):
        for view in batch:
            total += 1
            planned = _plan(ctx, params, view)
            if planned.key is None:
                continue
            rank = (view.date_modified.timestamp() if view.date_modified else 0.0, view.position, view.registration_code)
            if planned.key not in winners or rank > winners[planned.key]:
                winners[planned.key] = rank
    return winners, total


class _Sender:
    """Second pass: walks the registrations in position order, records what cannot be sent and
    sends the rest in sequential chunks, committing after each.

    A new attempt of the same run goes on after the saved position. A later run resuming after a
    quota stop does too, unless incremental: then it walks everything again and the ledger keeps
    what was already sent from going twice (and sends what changed in between)."""

    def __init__(self, ctx: JobContext, client: MarketoClient, params: dict[str, Any], winners: dict[str, Any]):
        self.ctx, self.client, self.params, self.winners = ctx, client, params, winners
        state = ctx.checkpoint.load() or {}
        self.position, self.sent = state.get("after", 0), state.get("sent", 0)
        same_run = state.get("run_id") == ctx.run_id
        self.skip_upto = self.position if same_run or not params["incremental"] else 0
        self.chunk: list[Planned] = []
        self.sent_by: dict[str, str] = {}  # lookup key -> registration code sent with it in this run
        self.done = self.unchanged = 0

    def send(self, batches, total: int) -> None:
        ctx, limit = self.ctx, self.params["max_records"]
        for batch in batches:
            planned = [_plan(ctx, self.params, view) for view in batch]
            prints = {p.view.registration_code: p.fingerprint for p in planned if p.key}
            fresh = ctx.ledger.changed(prints) if self.params["incremental"] else prints
            for p in planned:
                self.done, self.position = self.done + 1, max(self.position, p.view.position)
                if not self._sendable(p, fresh):
                    continue
                self.sent_by[p.key] = p.view.registration_code
                self.chunk.append(p)
                if len(self.chunk) == CHUNK_SIZE or (limit and self.sent + len(self.chunk) >= limit):
                    self._flush(total)
                    if (limit and self.sent >= limit) or ctx.cancelled():
                        ctx.log.info("stopped after %s leads", self.sent)
                        return
        self._flush(total)
        if self.unchanged:
            ctx.log.info("%s registrations unchanged since they were last sent", self.unchanged)
        ctx.log.info("%s leads sent to Marketo", self.sent)

    def _sendable(self, p: Planned, fresh: dict[str, str]) -> bool:
        """Whether ``p`` goes in the chunk; records why not when it is a problem."""
        key = registration_key(p.view)
        if p.key is None:
            self.ctx.record(key, "skipped", p.code, p.message, stage="map")
            return False
        winner = self.winners.get(p.key)
        if p.key in self.sent_by or (winner is not None and winner[1] != p.view.position):
            lookup = self.params["lookup_field"]
            other = self.sent_by.get(p.key) or winner[2]
            self.ctx.record(key, "skipped", "duplicate_in_batch",
                            f"registration {other} has the same {lookup} ({p.payload[lookup]}) and was modified "
                            "last: only its data is sent", stage="map")
            return False
        if p.view.registration_code not in fresh:
            self.unchanged += 1
            return False
        return True

    def _flush(self, total: int) -> None:
        """Send the chunk (if any), record each row, link lead ids, and commit it all."""
        if self.chunk:
            results = self.client.sync_leads([p.payload for p in self.chunk], action="createOrUpdate",
                                             lookup_field=self.params["lookup_field"],
                                             partition_name=self.params["partition_name"])
            if len(results) != len(self.chunk):
                raise JobFailed(f"Marketo answered {len(results)} results for {len(self.chunk)} leads.", code="bad_answer")
            self._record(list(zip(self.chunk, results)))
            self.sent += len(self.chunk)
            self.chunk = []
        self.ctx.progress(self.done, total)
        self.ctx.checkpoint.save({"run_id": self.ctx.run_id, "after": self.position, "sent": self.sent})

    def _record(self, rows: list[tuple[Planned, dict[str, Any]]]) -> None:
        ctx = self.ctx
        links = {registration_key(p.view): (p.view, r["id"]) for p, r in rows if r.get("status") in ("created", "updated")}
        failed_links = link_lead_ids(ctx, links)
        done = {}
        for p, r in rows:
            key, status = registration_key(p.view), r.get("status")
            if key in failed_links:
                link = failed_links[key]
                ctx.record(key, "failed", link.code, f"Marketo {status} lead {r['id']}, but it cannot be kept on the "
                                                     f"profile: {link.message}", stage="link")
            elif status in ("created", "updated"):
                ctx.record(key, status, stage="load")
                done[p.view.registration_code] = p.fingerprint
            else:
                code, message = reason_of(r)
                ctx.record(key, "skipped" if code in EXPECTED_SKIPS else "failed", code, message, stage="load")
        ctx.ledger.put(done)


CREATE_UPDATE_LEADS = JobType(
    key=KEY,
    label="Create or Update Leads in Marketo",
    application="marketo",
    scope="event",
    params_schema=CreateUpdateLeadsParams,
    run=run,
    description="Sends the event's registrations to Marketo as leads (created or updated by the lookup field) "
                "and keeps each lead's id on its profile.",
    event_choices=FILTER_CHOICES,
)
