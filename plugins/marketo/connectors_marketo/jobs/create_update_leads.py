"""Create or Update Leads in Marketo (spec §8.3).

The event's registrations, mapped through the outbound field mapping, go to Sync Leads
(createOrUpdate) 300 at a time, with the registration code in a lead field (``certainAttendeeId``)
that the metrics jobs link on. Lead ids come back onto the profiles.

Why it is built this way: under Marketo's sliding window (Adobe's 50 calls / 20 s) a run of C calls
takes at least floor((C - 1) / 50) windows, and every second spent before the first call is lost
for good, since each later window starts that much later. So:

* **No first pass.** Sending starts with the first 300 registrations. Lookup keys are
  de-duplicated while the registrations stream past in position order (``lead_claims``), and the
  last modified registration of a key wins:

  - within a chunk, a registration with a key already in it replaces the one there only if it
    was modified later (the one replaced is skipped ``duplicate_in_batch``, naming the
    registration that replaced it); otherwise it is the one skipped;
  - across chunks, a key already sent in this run goes again only if the new registration was
    modified later; otherwise it is skipped as a duplicate. Chunks go one after the other, so a
    key is never in two concurrent calls (Marketo would create the lead twice), and the lead
    keeps the last modified data. The second send updates the same lead, whose id stays on the
    first registration's profile (another profile cannot take it).

  A key goes twice only when its registrations are out of modification order, which is rare; a
  chunk never holds a key twice, so a run makes ceil(N / 300) calls when keys are distinct.
* **One call at a time, on the job's thread.** Each chunk's results are committed before the next
  call goes, so a crash repeats at most one call. Making the call on a thread of its own while
  this one maps the next chunk would hide at most the call's own time (under a tenth of the run)
  and was tried: on a loaded machine the hand-offs between the two threads cost more than that.
* **Less work per registration.** The mapping is resolved once per run (``OutboundMapper``) and
  read straight from each registration. The fingerprint keeps its format (sha256 of the sorted
  JSON): a cheaper hash would save about 2 % of the run and make every existing ledger send
  everything once more.

Resuming: each chunk commits its records, lead ids and ledger entries (per registration, a
fingerprint of what was sent, its status and attendee type) with its checkpoint (the last
registration position it covers). Nothing of a chunk is recorded before it commits, so a chunk
that never went leaves no trace. A resume that skips what the checkpoint covers first re-reads
those registrations for their keys, so that a duplicate after the checkpoint is judged as it would
have been. The incremental mode selects registrations changed since the last successful run and
sends only those whose fingerprint changed: linking lead ids back touches every profile, so the
watermark alone would send everything again on the next run; and a run resuming after a quota stop
sends nothing twice. A registration that takes over a key already sent in this run goes even when
its own fingerprint is unchanged: the lead just got older data.

A chunk in flight: before each call the checkpoint notes the moment (``inflight``). A worker that
dies after Marketo created a chunk's leads but before the chunk committed leaves that note; the
attempt that resumes sends the chunk again, Marketo answers "updated", and the leads created after
the note are counted ``created`` (``inflight.py``): the counts match what the run did in Marketo.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, JobType, RegistrationView

from ..client import MarketoClient
from . import inflight
from .common import client_for_run, marketo_errors
from .lead_claims import KeyClaims, Verdict, modified_rank
from .outbound import (
    FILTER_CHOICES, EXPECTED_SKIPS, OutboundMapper, RegistrationFilterParams, lead_id_of, link_lead_ids, reason_of,
    registration_filters, registration_key,
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


@dataclass(frozen=True, slots=True)
class Planned:
    """One registration, mapped: a lead to send (``key`` set) or a reason it cannot be sent."""

    view: RegistrationView
    record_key: str
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
        sender = _Sender(ctx, client, params, _Planner(ctx, params))
        if sender.skip_upto:
            sender.recall(ctx.store.iter_registrations(**filters, modified_since=since))
        sender.send(ctx.store.iter_registrations(**filters, modified_since=since, after=sender.skip_upto))


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


class _Planner:
    """Maps registrations to leads; what does not change per registration is worked out once."""

    def __init__(self, ctx: JobContext, params: dict[str, Any]):
        self.mapper = OutboundMapper(ctx.mappings)
        self.attendee_id_field, self.lookup = params["attendee_id_field"], params["lookup_field"]
        self.partition = params["partition_name"]
        self.required = [m.remote_field for m in ctx.mappings.outbound if m.required]

    def plan(self, view: RegistrationView) -> Planned:
        payload, lookup = self.mapper.payload(view), self.lookup
        if self.attendee_id_field:
            payload[self.attendee_id_field] = view.registration_code
        record_key = registration_key(view)
        value = payload.get(lookup)
        if value is None or value == "":
            return Planned(view, record_key, payload, code=f"missing_{lookup}",
                           message=f"no value for the lookup field {lookup}")
        missing = [name for name in self.required if payload.get(name) in (None, "")]
        if missing:
            return Planned(view, record_key, payload, code="missing_required", message=f"no value for {', '.join(missing)}")
        sent = json.dumps([payload, lookup, self.partition, view.status_label, view.attendee_type_code],
                          sort_keys=True, default=str)
        return Planned(view, record_key, payload, key=str(value).strip().casefold(),
                       fingerprint=hashlib.sha256(sent.encode()).hexdigest()[:40])


@dataclass
class _Chunk:
    """The registrations walked since the previous chunk: the leads to send (by lookup key), and
    what to record for the others, all recorded when the chunk commits."""

    leads: dict[str, Planned] = field(default_factory=dict)
    skips: list[tuple[str, str, str]] = field(default_factory=list)  # record key, code, message
    unchanged: int = 0
    done: int = 0      # registrations walked by the end of this chunk (progress)
    position: int = 0  # the last registration position it covers (checkpoint)


class _Sender:
    """Walks the registrations in position order, de-duplicates keys, and sends chunks one after
    the other, each committed (records, lead ids, ledger, checkpoint) before the next one goes, so
    no key is ever in two concurrent calls.

    A new attempt of the same run goes on after the saved position. A later run resuming after a
    quota stop does too, unless incremental: then it walks everything again and the ledger keeps
    what was already sent from going twice (and sends what changed in between)."""

    def __init__(self, ctx: JobContext, client: MarketoClient, params: dict[str, Any], planner: _Planner):
        self.ctx, self.client, self.params, self.planner = ctx, client, params, planner
        state = ctx.checkpoint.load() or {}
        position, self.sent = state.get("after", 0), state.get("sent", 0)
        same_run = state.get("run_id") == ctx.run_id
        self.skip_upto = position if same_run or not params["incremental"] else 0
        self.after = position  # the position the last committed chunk covers
        #: a chunk this run's dead attempt had in flight: the moment it went (see the module doc)
        self.inflight = state.get("inflight") if same_run else None
        self.chunk = _Chunk(position=position)
        self.claims = KeyClaims()
        self.done = self.unchanged = self.superseded = 0

    def recall(self, batches: Iterable[list[RegistrationView]]) -> None:
        """Before resuming after the checkpoint: the keys of the registrations it covers."""
        for batch in batches:
            for view in batch:
                if view.position > self.skip_upto:
                    return
                p = self.planner.plan(view)
                if p.key is not None:
                    self.claims.recall(p.key, view.registration_code, p.record_key, modified_rank(view.date_modified),
                                       lead_id_of(view))

    def send(self, batches: Iterable[list[RegistrationView]]) -> None:
        ctx, limit, incremental = self.ctx, self.params["max_records"], self.params["incremental"]
        for batch in batches:
            planned = [self.planner.plan(view) for view in batch]
            fresh = ctx.ledger.changed({p.view.registration_code: p.fingerprint for p in planned if p.key}) \
                if incremental else None
            for p in planned:
                self.done += 1
                self.chunk.done, self.chunk.position = self.done, max(self.chunk.position, p.view.position)
                self._take(p, fresh)
                if len(self.chunk.leads) == CHUNK_SIZE or (limit and self.sent + len(self.chunk.leads) >= limit):
                    self._flush()
                    if (limit and self.sent >= limit) or ctx.cancelled():
                        ctx.log.info("stopped after %s leads", self.sent)
                        return
        self._flush()
        ctx.progress(self.done, self.done)  # the total is known only now (no first pass counts it)
        if self.unchanged:
            ctx.log.info("%s registrations unchanged since they were last sent", self.unchanged)
        if self.superseded:
            ctx.log.info("%s registrations updated a lead that an earlier registration of this run, with the same "
                         "%s, had sent: its lead id stays on that registration's profile", self.superseded,
                         self.params["lookup_field"])
        ctx.log.info("%s leads sent to Marketo", self.sent)

    def _take(self, p: Planned, fresh: dict[str, str] | None) -> None:
        """Put ``p`` in the chunk, or note why not (see the module docstring for the rules)."""
        chunk = self.chunk
        if p.key is None:
            chunk.skips.append((p.record_key, p.code, p.message))
            return
        verdict, before = self.claims.claim(p.key, p.view.registration_code, p.record_key,
                                            modified_rank(p.view.date_modified))
        if verdict is Verdict.OLDER:
            chunk.skips.append(self._duplicate(p.record_key, p, before.code))
            return
        replaced = chunk.leads.pop(p.key, None)
        if replaced is not None:
            chunk.skips.append(self._duplicate(replaced.record_key, replaced, p.view.registration_code))
        must_go = verdict is Verdict.NEWER and before.sent  # the lead got older data in this run
        if fresh is not None and p.view.registration_code not in fresh and not must_go:
            chunk.unchanged += 1
            return
        chunk.leads[p.key] = p

    def _duplicate(self, record_key: str, p: Planned, winner: str) -> tuple[str, str, str]:
        lookup = self.params["lookup_field"]
        return (record_key, "duplicate_in_batch", f"registration {winner} has the same {lookup} ({p.payload[lookup]}) "
                                                  "and was modified last: only its data is sent")

    def _flush(self) -> None:
        """Send the chunk (if it has leads), then commit it: its records, the lead ids, the ledger
        entries and the checkpoint."""
        chunk, self.chunk = self.chunk, _Chunk(done=self.done, position=self.chunk.position)
        results = []
        if chunk.leads:
            self._save(sent_at=inflight.mark())  # a crash from here on: ``inflight`` tells the next attempt
            for key in chunk.leads:
                self.claims.sent(key, None)
            results = self.client.sync_leads([p.payload for p in chunk.leads.values()], action="createOrUpdate",
                                             lookup_field=self.params["lookup_field"],
                                             partition_name=self.params["partition_name"])
        self._commit(chunk, results)

    def _commit(self, chunk: _Chunk, results: list[dict[str, Any]]) -> None:
        """Record the chunk's rows, link lead ids, and commit it all with the checkpoint."""
        ctx = self.ctx
        for record_key, code, message in chunk.skips:
            ctx.record(record_key, "skipped", code, message, stage="map")
        self.unchanged += chunk.unchanged
        if chunk.leads:
            if len(results) != len(chunk.leads):
                raise JobFailed(f"Marketo answered {len(results)} results for {len(chunk.leads)} leads.", code="bad_answer")
            self._record(list(zip(chunk.leads.values(), results)))
            self.sent += len(chunk.leads)
        ctx.progress(chunk.done)
        self.after, self.inflight = chunk.position, None
        self._save()

    def _save(self, sent_at: str | None = None) -> None:
        state = {"run_id": self.ctx.run_id, "after": self.after, "sent": self.sent}
        if sent_at is not None:
            state["inflight"] = sent_at
        self.ctx.checkpoint.save(state)

    def _created_by_dead_attempt(self, rows: list[tuple[Planned, dict[str, Any]]]) -> set[str]:
        """Lead ids Marketo calls "updated" that this run's dead attempt created (the chunk it had
        in flight, sent again): created at or after its mark, by Marketo's clock."""
        updated = [r["id"] for _, r in rows if r.get("status") == "updated"]
        if self.inflight is None or not updated:
            return set()
        return inflight.created_since(self.client.get_leads("id", updated, fields=["id", "createdAt"]),
                                      self.inflight, "id")

    def _record(self, rows: list[tuple[Planned, dict[str, Any]]]) -> None:
        ctx, claims = self.ctx, self.claims
        links = {p.record_key: (p.view, r["id"]) for p, r in rows if r.get("status") in ("created", "updated")}
        created_before = self._created_by_dead_attempt(rows)
        failed_links = link_lead_ids(ctx, links)
        done = {}
        for p, r in rows:
            key, status = p.record_key, r.get("status")
            link = failed_links.get(key)
            if link is not None and link.code == "external_id_taken" and claims.linked_earlier(p.key, r["id"]):
                self.superseded += 1  # an earlier holder of the key, on another profile, keeps the lead id
                link = None
            if link is not None:
                ctx.record(key, "failed", link.code, f"Marketo {status} lead {r['id']}, but it cannot be kept on the "
                                                     f"profile: {link.message}", stage="link")
            elif status in ("created", "updated"):
                ctx.record(key, "created" if str(r["id"]) in created_before else status, stage="load")
                done[p.view.registration_code] = p.fingerprint
            else:
                code, message = reason_of(r)
                ctx.record(key, "skipped" if code in EXPECTED_SKIPS else "failed", code, message, stage="load")
            if status in ("created", "updated"):
                claims.sent(p.key, r["id"])
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
