"""What the two metrics jobs share (spec §2.5, §8.4–8.5): their common parameters, the check of
the Marketo custom object before anything is sent, and the upload loop.

Both jobs write one custom-object record per key (``attendeeId`` + ``eventCode`` [+ ``tag``])
with ``createOrUpdate`` on the object's dedupe fields, so a re-run — or the chunk done again
after a crash — replaces values instead of adding new records. The job's ledger keeps a
fingerprint of each record sent, so incremental runs send only records whose values changed.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, RegistrationView

from ..errors import MarketoError, MarketoQuotaExhausted
from . import inflight
from .common import client_for_run, marketo_errors
from .outbound import reason_of, registration_filters

#: Marketo's limit per custom-object sync call
CHUNK = 300
#: the lead field Create or Update Leads fills with the registration code; custom objects link on it
LEAD_LINK_FIELD = "certainAttendeeId"
#: a record whose attendeeId no lead carries (the lead was not created/updated by job 3 yet)
LEAD_NOT_FOUND = "1004"
#: "no such custom object"; and "custom objects are not enabled on this subscription"
MISSING_OBJECT_CODES = frozenset({"1013", "610"})
FEATURE_OFF_CODES = frozenset({"616", "1026"})

#: the filter parameters' choices come from the event's catalogue (form checkboxes, checked on submit)

Builder = Callable[[list[RegistrationView]], list[tuple[str, dict[str, Any]]]]


def incremental_field(order: int) -> fields.Boolean:
    return fields.Boolean(load_default=True, metadata={
        "label": "Only changed registrations", "order": order,
        "description": "Look only at registrations whose registration, profile, sessions or agenda items changed "
                       "since the job's last successful run, and send only the records whose values changed since "
                       "this job last sent them (the first run sends all; off: send everything)"})


def custom_object_field(default: str) -> fields.String:
    return fields.String(load_default=default, validate=validate.Length(min=1), metadata={
        "label": "Custom object API name", "order": 1,
        "description": f"API name of the Marketo custom object to write (default {default})"})


def check_custom_object(client, api_name: str, dedupe: list[str], needed: list[str]) -> dict[str, Any]:
    """Describe the object and fail with the Marketo-side setup to do when it cannot take our
    records: no custom objects, no such object, other dedupe fields (re-runs would not update in
    place), missing fields."""
    setup = (f"Create it in Admin > Marketo Custom Objects with the fields {', '.join(needed)}, dedupe fields "
             f"{' + '.join(dedupe)} and a link field attendeeId pointing at the lead field {LEAD_LINK_FIELD}, "
             "then approve it (see docs/marketo.md).")
    try:
        described = client.describe_custom_object(api_name)
    except MarketoQuotaExhausted:
        raise
    except MarketoError as exc:
        if exc.code in FEATURE_OFF_CODES:
            raise JobFailed(f"This Marketo subscription has no custom objects ({exc.code}: {exc.message}); they must "
                            "be enabled before metrics can be uploaded.", code="custom_objects_disabled") from exc
        if exc.code not in MISSING_OBJECT_CODES:
            raise
        described = None
    if not described:
        raise JobFailed(f"Marketo has no custom object {api_name!r}. {setup}", code="custom_object_missing")
    has = list(described.get("dedupeFields") or [])
    if sorted(has) != sorted(dedupe):
        raise JobFailed(f"Marketo custom object {api_name!r} deduplicates on {' + '.join(has) or 'nothing'}; it "
                        f"must be {' + '.join(dedupe)} so that each run updates its records in place. {setup}",
                        code="custom_object_dedupe")
    names = {f.get("name") for f in described.get("fields") or ()}
    missing = [n for n in needed if n not in names]
    if missing:
        raise JobFailed(f"Marketo custom object {api_name!r} lacks the field(s) {', '.join(missing)}: add them in "
                        "Admin > Marketo Custom Objects and approve the object again.", code="custom_object_fields")
    return described


def lead_link(described: dict[str, Any]) -> str | None:
    """The lead field the object's records link to (Marketo matches attendeeId against it)."""
    for relation in described.get("relationships") or ():
        related = relation.get("relatedTo") or {}
        if related.get("name") == "Lead":
            return related.get("field")
    return None


def upload(ctx: JobContext, params: dict[str, Any], dedupe: list[str], needed: list[str], build: Builder,
           per_registration: int = 1) -> None:
    """Check the filters and the object, then select registrations, build their records and
    upsert them, saving the last position after each batch so a run that stops resumes after the
    last batch Marketo took. Marketo's quota ends the run as ``quota_exhausted``."""
    filters = registration_filters(ctx, params)
    client = client_for_run(ctx)
    with marketo_errors("What was sent so far is kept in Marketo."):
        link = lead_link(check_custom_object(client, params["custom_object"], dedupe, needed))
        if link != LEAD_LINK_FIELD:
            ctx.log.warning("%s links to the lead field %s, not %s: records are matched to leads on that field",
                            params["custom_object"], link or "nothing", LEAD_LINK_FIELD)
        _send(ctx, client, params, filters, dedupe, build, per_registration)


def _send(ctx: JobContext, client, params: dict[str, Any], filters: dict[str, Any], dedupe: list[str],
          build: Builder, per_registration: int) -> None:
    """Walk the registrations in position order, send the records that are new or changed since
    this job last sent them (all of them when not incremental), and commit records, ledger and
    position after each batch. A later run resuming after a quota stop walks from the start when
    incremental: the watermark is older than the stop, and the ledger keeps what was sent from
    going twice."""
    state = ctx.checkpoint.load() or {}
    since = ctx.since if params["incremental"] else None
    same_run = state.get("run_id") == ctx.run_id
    after = state.get("after", 0) if same_run or not params["incremental"] else 0
    done = state.get("done", 0) if after else 0
    sent_at = state.get("inflight") if same_run else None  # a batch the dead attempt had in flight (inflight.py)
    if after:
        ctx.log.info("resuming after %s registrations", done)
    if since is not None:
        ctx.log.info("sending registrations changed since %s", since.isoformat())
    batches = ctx.store.iter_registrations(**filters, modified_since=since, after=after,
                                           batch_size=max(1, CHUNK // max(1, per_registration)))
    for batch in batches:
        keyed = [(key, record, _ledger_key(record, dedupe)) for key, record in build(batch)]
        prints = {lkey: _fingerprint(record) for _, record, lkey in keyed}
        fresh = ctx.ledger.changed(prints) if params["incremental"] else prints
        sending = [(key, record, lkey) for key, record, lkey in keyed if lkey in fresh]
        if sending:  # before the batch's records: a crash from here on finds the mark, nothing else
            ctx.checkpoint.save({"run_id": ctx.run_id, "after": after, "done": done, "inflight": inflight.mark()})
        for key, _, lkey in keyed:
            if lkey not in fresh:
                ctx.record(key, "unchanged")
        _upload(ctx, client, params["custom_object"], sending, prints, sent_at)
        done, after, sent_at = done + len(batch), batch[-1].position, None
        ctx.progress(done)
        ctx.checkpoint.save({"run_id": ctx.run_id, "after": after, "done": done})
        if ctx.cancelled():
            ctx.log.info("cancelled after %s registrations", done)
            return
    ctx.log.info("went through %s registrations for %s", done, params["custom_object"])


def _ledger_key(record: dict[str, Any], dedupe: list[str]) -> str:
    return "|".join(str(record[name]) for name in dedupe)


def _fingerprint(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _upload(ctx: JobContext, client, api_name: str, sending: list[tuple[str, dict[str, Any], str]],
            prints: dict[str, str], sent_at: str | None) -> None:
    """Upsert a batch's records ``CHUNK`` at a time; record Marketo's answers, put the ledger's."""
    for start in range(0, len(sending), CHUNK):
        chunk = sending[start:start + CHUNK]
        results = client.sync_custom_objects(api_name, [record for _, record, _ in chunk])
        created_before = _created_by_dead_attempt(client, api_name, results, sent_at)
        ctx.ledger.put({lkey: prints[lkey] for lkey in _record_results(ctx, chunk, results, created_before)})


def _created_by_dead_attempt(client, api_name: str, results: list[dict[str, Any]], sent_at: str | None) -> set[str]:
    """GUIDs of the records Marketo calls "updated" that the run's dead attempt created (the batch
    it had in flight, sent again; ``inflight.py``)."""
    updated = [r["marketoGUID"] for r in results if r.get("status") == "updated" and r.get("marketoGUID")]
    if sent_at is None or not updated:
        return set()
    found = client.get_custom_objects(api_name, "marketoGUID", updated, fields=["marketoGUID", "createdAt"])
    return inflight.created_since(found, sent_at, "marketoGUID")


def _record_results(ctx: JobContext, chunk: list[tuple[str, dict[str, Any], str]],
                    results: list[dict[str, Any]], created_before: set[str] = frozenset()) -> list[str]:
    """Record Marketo's answer per input (``seq`` orders them); returns the ledger keys it took.
    A record the dead attempt created counts as created (``created_before``, by GUID)."""
    by_seq = {r.get("seq", i): r for i, r in enumerate(results)}
    taken = []
    for seq, (key, record, lkey) in enumerate(chunk):
        result = by_seq.get(seq) or {"status": "skipped", "reasons": [{"code": "no_result",
                                                                       "message": "Marketo returned no result"}]}
        status = result.get("status")
        if status in ("created", "updated"):
            ctx.record(key, "created" if str(result.get("marketoGUID")) in created_before else status)
            taken.append(lkey)
            continue
        code, message = reason_of(result)
        if code == LEAD_NOT_FOUND:
            ctx.record(key, "skipped", code, f"No Marketo lead has {LEAD_LINK_FIELD} {record['attendeeId']}: run "
                                             "Create or Update Leads in Marketo first", stage="upload")
        else:
            ctx.record(key, "failed", code, f"Marketo: {message}", stage="upload")
    return taken
