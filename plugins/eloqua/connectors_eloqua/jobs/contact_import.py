"""The batches of Create or Update Contacts: one Bulk import definition and one sync per batch,
then Eloqua's verdict per row and the contact ids kept on the profiles.

Crash safety (``bulk_batches``): the checkpoint names a batch's definition once created, once
its rows are staged (with, in upload order, the registrations it carries) and once its sync is
started, so an attempt that resumes goes on from that step — dropping a half-staged definition
and sending the batch again, starting or finding the staged one's sync, or waiting for the
started one — and never imports a batch twice (Eloqua would then call "updated" the contacts its
first import created). Rejected rows (``recordIndex`` is 1-based in the upload order) are
recorded failed on the registrations they came from and stay out of the ledger, so they are
sent again next time.

Contact ids: one contact export per batch of the contacts changed since the sync started (id,
email, created at) — a contact created at or after that moment was created by the sync — and,
for the few the export does not show, the id already on the profile or a REST search by email.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from dateutil import parser as dateparser

from connectors import JobContext, RegistrationView

from ..client import EloquaClient
from .bulk_batches import BulkBatches, reject_message
from .outbound import known_contact_id, link_contact_ids, registration_key

CREATED, UPDATED = "ELQ-00004", "ELQ-00022"
IDS_EXPORT_FIELDS = {"Id": "{{Contact.Id}}", "Email": "{{Contact.Field(C_EmailAddress)}}",
                     "CreatedAt": "{{Contact.CreatedAt}}"}


@dataclass(frozen=True)
class Planned:
    """One registration, mapped: a contact row to send (``key``, the lowercased email, set) or a
    reason it cannot be sent."""

    view: RegistrationView
    row: dict[str, Any]
    key: str | None = None
    fingerprint: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Entry:
    """A row of a started batch, as the checkpoint keeps it."""

    record_key: str
    registration_code: str
    email: str
    fingerprint: str
    contact_id: str | None  # already on the profile before this run

    def saved(self) -> list[Any]:
        return [self.record_key, self.registration_code, self.email, self.fingerprint, self.contact_id]


class ContactBatches(BulkBatches):
    """Walks the registrations in position order, records what cannot be sent and imports the
    rest ``batch_size`` at a time, committing records, ledger and position after each batch."""

    path, noun = "contacts/imports", "contacts"

    def __init__(self, ctx: JobContext, client: EloquaClient, params: dict[str, Any], definition: dict[str, Any],
                 planner: Callable[[RegistrationView], Planned]):
        super().__init__(ctx, client, params, definition)
        self.plan = planner
        self.chunk: list[Planned] = []
        self.sent_by: dict[str, str] = {}  # email key -> registration code sent with it in this run
        self.winners: dict[str, tuple[float, int, str]] = {}
        self.unchanged = 0

    def send(self, batches: Iterable[list[RegistrationView]], winners: dict[str, Any], total: int) -> None:
        ctx, self.winners = self.ctx, winners
        for batch in batches:
            planned = [self.plan(view) for view in batch]
            prints = {p.view.registration_code: p.fingerprint for p in planned if p.key}
            fresh = ctx.ledger.changed(prints) if self.params["incremental"] else prints
            for p in planned:
                self.done, self.position = self.done + 1, max(self.position, p.view.position)
                if not self._sendable(p, fresh):
                    continue
                self.sent_by[p.key] = p.view.registration_code
                self.chunk.append(p)
                if len(self.chunk) >= self.params["batch_size"]:
                    self._flush(total)
                    if ctx.cancelled():
                        ctx.log.info("cancelled after %s contacts", self.sent)
                        return
        self._flush(total)
        if self.unchanged:
            ctx.log.info("%s registrations unchanged since they were last sent", self.unchanged)
        ctx.log.info("%s contacts sent to Eloqua", self.sent)

    def _sendable(self, p: Planned, fresh: dict[str, str]) -> bool:
        """Whether ``p`` goes in the batch; records why not when it is a problem."""
        key = registration_key(p.view)
        if p.key is None:
            self.note(key, "skipped", p.code, p.message, stage="map")
            return False
        winner = self.winners.get(p.key)
        if p.key in self.sent_by or (winner is not None and winner[1] != p.view.position):
            other = self.sent_by.get(p.key) or winner[2]
            self.note(key, "skipped", "duplicate_email",
                      f"registration {other} has the same email ({p.row['C_EmailAddress']}) and was modified last: "
                      "only its data is sent", stage="map")
            return False
        if p.view.registration_code not in fresh:
            self.unchanged += 1
            return False
        return True

    # -- one batch -------------------------------------------------------------------------------------------
    def _flush(self, total: int) -> None:
        if self.chunk:
            entries = [Entry(registration_key(p.view), p.view.registration_code, p.key, p.fingerprint,
                             known_contact_id(p.view)).saved() for p in self.chunk]
            rows, self.chunk = [p.row for p in self.chunk], []
            self.import_batch(rows, entries)
        self.ctx.progress(self.done, total)
        self.save()

    def gather(self, saved: list[list[Any]], sync: dict[str, Any], rejects: dict[int, dict[str, Any]]
               ) -> tuple[dict[str, tuple[str, bool]], dict[str, int]]:
        """The contact ids, and how many contacts the sync created and updated (ELQ-00004/00022)."""
        counts = {code: 0 for code in (CREATED, UPDATED)}
        for item in self.client.sync_logs(sync["uri"]):
            if item.get("statusCode") in counts:
                counts[item["statusCode"]] += int(item.get("count") or 0)
        return self._resolve(sync, [Entry(*e) for i, e in enumerate(saved) if i not in rejects]), counts

    def outcomes(self, saved: list[list[Any]], rejects: dict[int, dict[str, Any]],
                 facts: tuple[dict[str, tuple[str, bool]], dict[str, int]]) -> None:
        """Record each row: rejected, created or updated (with its contact id kept on the profile).
        Eloqua counts creates and updates per sync only: when it did only one of the two, that
        names every row; otherwise a contact is new when it was created after the sync started
        (to the second) and its id was not on the profile before."""
        ctx, entries, (found, counts) = self.ctx, [Entry(*e) for e in saved], facts
        accepted = [e for i, e in enumerate(entries) if i not in rejects]
        failed_links = link_contact_ids(ctx, {e.record_key: (e.registration_code, found[e.email][0])
                                              for e in accepted if e.email in found})
        taken = {}
        for index, entry in enumerate(entries):
            if index in rejects:
                ctx.record(entry.record_key, "failed", str(rejects[index].get("statusCode") or "rejected"),
                           reject_message(rejects[index]), stage="load")
            elif entry.email not in found:
                ctx.record(entry.record_key, "failed", "contact_not_found", f"Eloqua accepted {entry.email} but no "
                           "contact has that email afterwards", stage="link")
            elif entry.record_key in failed_links:
                link = failed_links[entry.record_key]
                ctx.record(entry.record_key, "failed", link.code, f"Eloqua contact {found[entry.email][0]} cannot be "
                           f"kept on the profile: {link.message}", stage="link")
            else:
                contact_id, new = found[entry.email]
                created = (new and entry.contact_id != contact_id) if counts[CREATED] and counts[UPDATED] \
                    else bool(counts[CREATED])
                ctx.record(entry.record_key, "created" if created else "updated", stage="load")
                taken[entry.registration_code] = entry.fingerprint
        ctx.ledger.put(taken)

    def _resolve(self, sync: dict[str, Any], accepted: list[Entry]) -> dict[str, tuple[str, bool]]:
        """``{email key: (contact id, created by this sync)}`` of the accepted rows."""
        if not accepted:
            return {}
        started = _moment(sync.get("syncStartedAt") or sync.get("createdAt")).replace(microsecond=0)
        wanted = {e.email for e in accepted}
        found: dict[str, tuple[str, bool]] = {}
        definition = {"name": f"Certain contact ids run {self.ctx.run_id} after {self.position}",
                      "fields": IDS_EXPORT_FIELDS, "areSystemTimestampsInUTC": True,
                      "filter": "'{{Contact.UpdatedAt}}' >= '%s'" % started.strftime("%Y-%m-%d %H:%M:%S")}
        for row in self.client.export_all("contacts/exports", definition):
            key = str(row.get("Email") or "").strip().casefold()
            if key in wanted and row.get("Id"):
                found[key] = (str(row["Id"]), bool(row.get("CreatedAt")) and _moment(row["CreatedAt"]) >= started)
        for entry in accepted:
            if entry.email in found:
                continue
            if entry.contact_id:
                found[entry.email] = (entry.contact_id, False)
                continue
            match = self.client.find_contacts_by_email(entry.email, depth="minimal")
            if match:
                created = match[0].get("createdAt")
                found[entry.email] = (str(match[0]["id"]), bool(created) and
                                      datetime.fromtimestamp(int(created), timezone.utc) >= started)
        return found


def _moment(text: str) -> datetime:
    """A Bulk timestamp (ISO 8601, or Eloqua's ``YYYY-MM-DD hh:mm:ss.fff`` in UTC) as UTC."""
    moment = dateparser.parse(str(text))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
