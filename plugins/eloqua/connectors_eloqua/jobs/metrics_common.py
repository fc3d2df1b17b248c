"""What the two metrics jobs share (spec §2.5, §8.4–8.5): their parameters, the check of the
custom object (CDO) before anything is sent, and the upload of its records in Bulk imports.

Each record carries a unique key (``eventCode:registrationCode`` [``:tag``]) that the import
matches on (``identifierFieldName``, ``updateRule: always``), so a re-run — or a batch sent again
after a crash — replaces values instead of adding records. ``mapDataCards`` links each record
to the contact with its email; Eloqua only counts the records it could not link (ELQ-00034), so
when there are some, the job looks their emails up to name them per registration.

The job's ledger keeps a fingerprint of each record Eloqua took: incremental runs send only new
or changed records, and the interest job sends a zero score only when it once sent that key a
score (so a stale score is reset, and tags an attendee never had points for are not written).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, RegistrationView

from ..client import EloquaClient
from .bulk_batches import BulkBatches, reject_message, release
from .bulk_runs import throttling_resumes
from .common import client_for_run, eloqua_errors
from .outbound import RegistrationFilterParams, fingerprint, known_contact_id, registration_filters, registration_key

CONTACT_EMAIL = "{{Contact.Field(C_EmailAddress)}}"
NOT_MAPPED, CREATED, UPDATED = "ELQ-00034", "ELQ-00004", "ELQ-00022"


class MetricsParams(RegistrationFilterParams):
    incremental = fields.Boolean(load_default=True, metadata={
        "label": "Only changed registrations", "order": 5,
        "description": "Look only at registrations whose registration, profile, sessions or agenda items changed "
                       "since the job's last successful run, and send only the records whose values changed since "
                       "this job last sent them (the first run sends all; off: send everything)"})
    batch_size = fields.Integer(load_default=5000, validate=validate.Range(min=1, max=50_000), metadata={
        "label": "Records per import", "order": 6,
        "description": "Custom object records per Bulk import sync (uploads are split further to stay under 32 MB)"})


def custom_object_field(default: str) -> fields.String:
    return fields.String(load_default=default, validate=validate.Length(min=1, max=200), metadata={
        "label": "Custom object", "order": 1,
        "description": f"Name or id of the Eloqua custom object to write (default {default!r})"})


@dataclass(frozen=True)
class Target:
    """The custom object and, per column we send, its Bulk statement."""

    id: int
    name: str
    columns: dict[str, str]


@dataclass(frozen=True)
class Built:
    """One record to send for a registration (``zero``: a score of 0, sent only to reset one)."""

    view: RegistrationView
    record_key: str
    ledger_key: str
    record: dict[str, Any]
    zero: bool = False


Builder = Callable[[list[RegistrationView]], list[Built]]


def find_target(client: EloquaClient, chosen: str, needed: list[str], setup: str) -> Target:
    """The custom object named (or numbered) ``chosen`` with every ``needed`` field, matched by
    internal name (or by display name without spaces); fails with the setup to do otherwise."""
    chosen = chosen.strip()
    objects = client.bulk_custom_objects()
    if chosen.isdigit():
        found = [o for o in objects if str(o.get("uri", "")).rsplit("/", 1)[-1] == chosen]
    else:
        found = [o for o in objects if str(o.get("name", "")).lower() == chosen.lower()]
    if not found:
        raise JobFailed(f"Eloqua has no custom object {chosen!r}. {setup}", code="custom_object_missing")
    if len(found) > 1:
        ids = ", ".join(o["uri"].rsplit("/", 1)[-1] for o in found)
        raise JobFailed(f"{len(found)} Eloqua custom objects are named {chosen!r} (ids {ids}): give the id instead.",
                        code="ambiguous_custom_object")
    cdo_id, name = int(found[0]["uri"].rsplit("/", 1)[-1]), found[0].get("name", chosen)
    statements = {}
    for f in client.custom_object_fields(cdo_id):
        for label in (f.get("internalName"), str(f.get("name") or "").replace(" ", "")):
            if label:
                statements.setdefault(label.lower(), f["statement"])
    missing = [n for n in needed if n.lower() not in statements]
    if missing:
        raise JobFailed(f"Eloqua custom object {name!r} lacks the field(s) {', '.join(missing)}. {setup}",
                        code="custom_object_fields")
    return Target(cdo_id, name, {n: statements[n.lower()] for n in needed})


def import_definition(target: Target, key_column: str, email_column: str) -> dict[str, Any]:
    """Upsert on the key; link each record to the contact with its email (spec §8.4)."""
    return {"fields": target.columns, "identifierFieldName": key_column, "updateRule": "always",
            "mapDataCards": True, "mapDataCardsEntityType": "Contact", "mapDataCardsSourceField": email_column,
            "mapDataCardsEntityField": CONTACT_EMAIL, "mapDataCardsCaseSensitiveMatch": False,
            "dataRetentionDuration": "P1D"}


def upload(ctx: JobContext, params: dict[str, Any], chosen: str, key_column: str, email_column: str,
           needed: list[str], setup: str, build: Builder, per_registration: int = 1) -> None:
    """Check the filters and the object, then select registrations, build their records and
    import them batch by batch (see ``bulk_batches``)."""
    filters = registration_filters(ctx, params)
    release(ctx)
    client = client_for_run(ctx)
    since = ctx.since if params["incremental"] else None
    kept = "Records imported so far are kept in Eloqua."
    with eloqua_errors(kept), throttling_resumes(kept):
        target = find_target(client, chosen, needed, setup)
        batches = RecordBatches(ctx, client, params, import_definition(target, key_column, email_column), target,
                                email_column)
        batches.finish_pending()
        if since is not None:
            ctx.log.info("sending registrations changed since %s", since.isoformat())
        size = max(1, params["batch_size"] // max(1, per_registration))
        batches.send(ctx.store.iter_registrations(**filters, modified_since=since, after=batches.skip_upto,
                                                  batch_size=size), build)


class RecordBatches(BulkBatches):
    """One import per store batch of registrations; records, ledger and position commit with it."""

    noun = "custom object records"

    def __init__(self, ctx: JobContext, client: EloquaClient, params: dict[str, Any], definition: dict[str, Any],
                 target: Target, email_column: str):
        super().__init__(ctx, client, params, definition)
        self.path, self.target, self.email_column = f"customObjects/{target.id}/imports", target, email_column

    def send(self, batches: Iterable[list[RegistrationView]], build: Builder) -> None:
        ctx = self.ctx
        for batch in batches:
            rows, entries = [], []
            for b in self._fresh(build(self._with_email(batch))):
                rows.append(b[0].record)
                entries.append(b[1])
            self.done, self.position = self.done + len(batch), batch[-1].position
            if rows:
                self.import_batch(rows, entries)
            ctx.progress(self.done)
            self.save()
            if ctx.cancelled():
                ctx.log.info("cancelled after %s registrations", self.done)
                return
        ctx.log.info("went through %s registrations for %s", self.done, self.target.name)

    def _with_email(self, batch: list[RegistrationView]) -> list[RegistrationView]:
        """The registrations that have an email (records link to contacts by it); the others are
        recorded as skipped."""
        for view in batch:
            if not view.profile.get("email"):
                self.note(registration_key(view), "skipped", "missing_email",
                          "no email: its records could not be linked to a contact", stage="map")
        return [view for view in batch if view.profile.get("email")]

    def _fresh(self, built: list[Built]) -> Iterable[tuple[Built, list[Any]]]:
        """The records to send, with their checkpoint entries; records the unchanged ones."""
        ctx = self.ctx
        prints = {b.ledger_key: fingerprint(b.record) for b in built}
        stored = ctx.ledger.get(prints)
        for b in built:
            before, now = stored.get(b.ledger_key), prints[b.ledger_key]
            if b.zero and before is None:
                continue  # never had a score: nothing to reset
            if before == now and self.params["incremental"]:
                self.note(b.record_key, "unchanged")
                continue
            email = str(b.record[self.email_column])
            yield b, [b.record_key, b.ledger_key, now, email, known_contact_id(b.view), before is not None]

    def gather(self, entries: list[list[Any]], sync: dict[str, Any], rejects: dict[int, dict[str, Any]]
               ) -> tuple[dict[str, int], set[str]]:
        """Eloqua's counts (created, updated, not mapped) and the emails no contact has."""
        logs = {code: sum(int(i.get("count") or 0) for i in self.client.sync_logs(sync["uri"]) if i.get("statusCode") == code)
                for code in (NOT_MAPPED, CREATED, UPDATED)}
        return logs, self._unlinked(logs[NOT_MAPPED], [e for i, e in enumerate(entries) if i not in rejects])

    def outcomes(self, entries: list[list[Any]], rejects: dict[int, dict[str, Any]],
                 facts: tuple[dict[str, int], set[str]]) -> None:
        """Record each row: rejected, stored unlinked (no contact has its email), created or updated.
        Eloqua counts creates and updates only per sync: when it did only one of them that names
        every row; otherwise a key this job sent before counts as updated."""
        ctx, (logs, unlinked) = self.ctx, facts
        taken = {}
        for index, (record_key, ledger_key, print_, email, _, existed) in enumerate(entries):
            if index in rejects:
                ctx.record(record_key, "failed", str(rejects[index].get("statusCode") or "rejected"),
                           reject_message(rejects[index]), stage="load")
                continue
            if email.casefold() in unlinked:
                ctx.record(record_key, "skipped", "no_contact", f"No Eloqua contact has the email {email}: the record "
                           "is stored unlinked; run Create or Update Contacts in Eloqua first (the next run links it)",
                           stage="link")
                continue
            updated = existed if logs[CREATED] and logs[UPDATED] else bool(logs[UPDATED])
            ctx.record(record_key, "updated" if updated else "created", stage="load")
            taken[ledger_key] = print_
        ctx.ledger.put(taken)

    def _unlinked(self, count: int, accepted: list[list[Any]]) -> set[str]:
        """Emails (lowercased) of accepted records no contact has, when Eloqua says ``count``
        records stayed unmapped: those without a known contact id are looked up first."""
        if not count:
            return set()
        unknown = list(dict.fromkeys(e[3].casefold() for e in accepted if not e[4]))
        known = [email for email in dict.fromkeys(e[3].casefold() for e in accepted if e[4]) if email not in unknown]
        missing: set[str] = set()
        for emails in (unknown, known):
            for email in emails:
                if not self.client.find_contacts_by_email(email, depth="minimal"):
                    missing.add(email)
            if len(missing) >= count:
                break
        if len(missing) < count:
            self.ctx.log.warning("Eloqua left %s records unlinked; %s of them are named per registration", count,
                                 len(missing))
        return missing
