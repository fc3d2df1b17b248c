"""What the Bulk-import jobs share: a batch is one import definition, its upload and one sync;
the run's checkpoint follows the batch through three stages so that an attempt that resumes
after a worker died goes on from where the dead one was instead of importing the batch again
(which would make Eloqua answer "updated" for the contacts the first import created):

- ``created``: the definition exists, nothing is staged for sure. The checkpoint still stands
  before the batch; resuming deletes the definition (with whatever half an upload left on it:
  no sync ever ran on it) and builds and sends the batch again.
- ``uploaded``: the rows are staged. From here the checkpoint stands after the batch (its
  position, its rows' entries in upload order, the records noted while walking); resuming
  starts the definition's sync — or finds the one the dead attempt started
  (``resume_or_start_sync``: a definition gets one sync, so any sync on it is ours).
- ``started``: the sync's URI is known; resuming waits for it and records its outcome.

A worker that dies between two stages leaves the remote side one step further than the
checkpoint says, and each stage's resume covers exactly that step. The checkpoint is
``{run_id, after, done, sent, pending}``: ``after`` is the position of the last registration
looked at, ``pending`` the batch in flight (``stage``, ``definition_uri`` and from ``uploaded``
on ``entries``, from ``started`` on ``sync_uri``) or None. Rejected rows are mapped back by
``recordIndex`` (1-based in the upload order, spec §3.5).

No database transaction stays open while Eloqua is called: on SQLite the run's session holds the
write lock from its first read to its commit, which would stop every other writer (the web, other
workers, a token refresh saving its rotated token) for as long as a sync takes. So records made
while walking wait in ``note`` until the commit that covers them, and ``release`` ends the
session's transaction before each batch talks to Eloqua.
"""
from __future__ import annotations

from typing import Any

from connectors import JobContext, JobFailed

from ..client import EloquaClient
from ..errors import BulkSyncError, BulkSyncTimeout, EloquaError, EloquaRateLimited
from .bulk_runs import forget, resume_or_start_sync

CREATED, UPLOADED, STARTED = "created", "uploaded", "started"


class BulkBatches:
    """Subclasses walk the registrations and call ``import_batch``; ``gather`` reads what else
    a finished sync's outcome needs from Eloqua, ``outcomes`` records its rows (``rejects`` by
    0-based row)."""

    #: e.g. "contacts/imports" or "customObjects/9/imports"
    path = ""
    #: what a batch is called in log lines and definition names
    noun = "records"

    def __init__(self, ctx: JobContext, client: EloquaClient, params: dict[str, Any], definition: dict[str, Any]):
        self.ctx, self.client, self.params, self.definition = ctx, client, params, definition
        self.state = state = ctx.checkpoint.load() or {}
        # another run's checkpoint is one that stopped throttled (quota_exhausted): its started
        # sync is still waited for; incremental runs walk from the start again (the ledger keeps
        # what was sent from going twice), the others go on after its position
        walk_again = state.get("run_id") != ctx.run_id and params["incremental"]
        self.position = self.skip_upto = 0 if walk_again else state.get("after", 0)
        self.sent, self.done = (0, 0) if walk_again else (state.get("sent", 0), state.get("done", 0))
        self.noted: list[tuple[Any, ...]] = []
        #: where the checkpoint stands (what a batch's ``created`` stage saves again)
        self.committed = {"after": self.position, "done": self.done, "sent": self.sent}

    # -- checkpoint --------------------------------------------------------------------------------------------
    def finish_pending(self) -> None:
        """An interrupted attempt left a batch in flight: go on from the stage its checkpoint names
        (drop a half-staged definition, start or find a staged one's sync, wait for a started one)."""
        pending = self.state.get("pending")
        if self.state.get("run_id") not in (None, self.ctx.run_id):
            self.ctx.log.info("going on from run #%s, which Eloqua's throttling stopped", self.state["run_id"])
        if not pending:
            if self.skip_upto:
                self.ctx.log.info("resuming after %s registrations", self.done)
            return
        release(self.ctx)
        stage = pending.get("stage", STARTED)  # checkpoints saved before stages existed named a started sync
        if stage == CREATED:
            self.ctx.log.info("resuming after %s registrations: the last batch never finished uploading, it is "
                              "sent again", self.done)
            self.forget(pending["definition_uri"])
        else:
            if stage == UPLOADED:
                pending = self.start(pending)
            self.ctx.log.info("resuming after %s registrations: waiting for sync %s of the last batch",
                              self.done, pending["sync_uri"])
            self.settle(pending)
        self.save()

    def note(self, key: str, outcome: str, code: str | None = None, message: str | None = None,
             stage: str | None = None) -> None:
        """A record made while walking: kept until the commit that covers its registration."""
        self.noted.append((key, outcome, code, message, stage))

    def save(self, pending: dict[str, Any] | None = None) -> None:
        for key, outcome, code, message, stage in self.noted:
            self.ctx.record(key, outcome, code, message, stage=stage)
        self.noted = []
        self.committed = {"after": self.position, "done": self.done, "sent": self.sent}
        self.ctx.checkpoint.save({"run_id": self.ctx.run_id, **self.committed, "pending": pending})

    # -- one batch ---------------------------------------------------------------------------------------------
    def import_batch(self, rows: list[dict[str, Any]], entries: list[list[Any]]) -> None:
        """Create a definition, upload ``rows``, start its sync — checkpointing each stage — then
        wait and record."""
        release(self.ctx)
        name = f"Certain {self.noun} run {self.ctx.run_id} after {self.position}"
        uri = self.client.create_definition(self.path, {**self.definition, "name": name})["uri"]
        # the checkpoint stays before the batch (records noted while walking wait): resuming drops it
        self.ctx.checkpoint.save({"run_id": self.ctx.run_id, **self.committed,
                                  "pending": {"stage": CREATED, "definition_uri": uri}})
        try:
            uploaded = self.client.upload_rows(uri, rows)
        except BaseException:
            self.forget(uri)
            raise
        self.ctx.log.info("batch of %s %s uploaded in %s file(s)", uploaded.rows, self.noun, uploaded.files)
        pending = {"stage": UPLOADED, "definition_uri": uri, "entries": entries}
        self.save(pending)  # from here on an interruption resumes by starting (or finding) this batch's sync
        self.settle(self.start(pending))

    def start(self, pending: dict[str, Any]) -> dict[str, Any]:
        """Start the sync of an uploaded batch — or find the one an attempt that died started —
        and checkpoint it."""
        try:
            sync = resume_or_start_sync(self.client, pending["definition_uri"])
        except EloquaRateLimited:
            raise  # the run stops throttled: the next run starts this sync (the checkpoint names it)
        except EloquaError:
            self.forget(pending["definition_uri"])
            raise
        self.ctx.log.info("sync %s of %s %s started", sync["uri"], len(pending["entries"]), self.noun)
        pending = {**pending, "stage": STARTED, "sync_uri": sync["uri"]}
        self.save(pending)  # from here on an interruption resumes by waiting for this sync
        return pending

    def settle(self, pending: dict[str, Any]) -> None:
        entries = pending["entries"]
        try:
            sync = self.client.wait_for_sync(pending["sync_uri"])
        except BulkSyncTimeout as exc:
            raise JobFailed(f"Eloqua's import sync {exc.sync_uri} is still {exc.sync_status} after the polling deadline; "
                            f"its {len(entries)} {self.noun} may still arrive. The next run sends them again (harmless: "
                            "Eloqua matches them on their key).", code="sync_timeout") from exc
        except BulkSyncError as exc:
            problems = [i for i in exc.logs if i.get("severity") == "error"] or [{}]
            code = str(problems[0].get("statusCode") or "sync_error")
            for entry in entries:
                self.ctx.record(entry[0], "failed", code, f"Eloqua's import sync ended in error: {exc.message}",
                                stage="load")
            self.forget(pending["definition_uri"])
            return
        rejects = self.rejects(sync, len(entries))
        facts = self.gather(entries, sync, rejects)
        self.forget(pending["definition_uri"])
        self.outcomes(entries, rejects, facts)  # database writes only: no lock held across a network call
        self.sent += len(entries)

    def gather(self, entries: list[list[Any]], sync: dict[str, Any], rejects: dict[int, dict[str, Any]]) -> Any:
        """What ``outcomes`` needs to know from Eloqua beyond the rejects (read before any write)."""
        raise NotImplementedError

    def outcomes(self, entries: list[list[Any]], rejects: dict[int, dict[str, Any]], facts: Any) -> None:
        raise NotImplementedError

    def rejects(self, sync: dict[str, Any], rows: int) -> dict[int, dict[str, Any]]:
        """Rejected rows by 0-based position in the batch (``recordIndex`` - 1)."""
        if sync.get("status") != "warning":
            return {}
        found = {}
        for item in self.client.sync_rejects(sync["uri"]):
            index = int(item.get("recordIndex") or 0) - 1
            if 0 <= index < rows:
                found[index] = item
            else:
                self.ctx.log.warning("Eloqua rejected row %s of a %s-row batch: %s", index + 1, rows, item.get("message"))
        return found

    def forget(self, uri: str) -> None:
        forget(self.client, uri)


def release(ctx: JobContext) -> None:
    """End the run session's transaction (saving the checkpoint as it was) before calling Eloqua."""
    ctx.checkpoint.save(ctx.checkpoint.load())


def reject_message(item: dict[str, Any]) -> str:
    fields = ", ".join(item.get("invalidFields") or ()) or "the row"
    return f"Eloqua rejected it ({fields}): {item.get('message') or 'no reason given'}"
