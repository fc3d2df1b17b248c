"""What the Bulk-import jobs share: a batch is one import definition, its upload and one sync;
the run's checkpoint names the started sync so that an interrupted attempt resumes by waiting
for it (and recording its outcome) instead of importing the batch again.

The checkpoint is ``{run_id, after, done, sent, pending}``: ``after`` is the position of the last
registration looked at, ``pending`` the started sync (definition and sync URIs and, in upload
order, the saved entries of its rows) or None. A crash before the sync started leaves only
staged data on a definition no sync will ever run: that batch is built and sent again. Rejected
rows are mapped back by ``recordIndex`` (1-based in the upload order, spec §3.5).
"""
from __future__ import annotations

from typing import Any

from connectors import JobContext, JobFailed

from ..client import EloquaClient
from ..errors import BulkSyncError, BulkSyncTimeout, EloquaError


class BulkBatches:
    """Subclasses walk the registrations and call ``import_batch``; ``outcomes`` records a
    finished sync's rows (``rejects`` by 0-based row) and returns nothing."""

    #: e.g. "contacts/imports" or "customObjects/9/imports"
    path = ""
    #: what a batch is called in log lines and definition names
    noun = "records"

    def __init__(self, ctx: JobContext, client: EloquaClient, params: dict[str, Any], definition: dict[str, Any]):
        self.ctx, self.client, self.params, self.definition = ctx, client, params, definition
        state = ctx.checkpoint.load() or {}
        self.state = state if state.get("run_id") == ctx.run_id else {}
        self.position = self.skip_upto = self.state.get("after", 0)
        self.sent, self.done = self.state.get("sent", 0), self.state.get("done", 0)

    # -- checkpoint --------------------------------------------------------------------------------------------
    def finish_pending(self) -> None:
        """An interrupted attempt left a started sync behind: wait for it and record its rows."""
        pending = self.state.get("pending")
        if pending:
            self.ctx.log.info("resuming after %s registrations: waiting for sync %s of the last batch started",
                              self.done, pending["sync_uri"])
            self.settle(pending)
            self.save()
        elif self.skip_upto:
            self.ctx.log.info("resuming after %s registrations", self.done)

    def save(self, pending: dict[str, Any] | None = None) -> None:
        self.ctx.checkpoint.save({"run_id": self.ctx.run_id, "after": self.position, "done": self.done,
                                  "sent": self.sent, "pending": pending})

    # -- one batch ---------------------------------------------------------------------------------------------
    def import_batch(self, rows: list[dict[str, Any]], entries: list[list[Any]]) -> None:
        """Upload ``rows`` through a new definition, start its sync, checkpoint it, wait, record."""
        name = f"Certain {self.noun} run {self.ctx.run_id} after {self.position}"
        uri = self.client.create_definition(self.path, {**self.definition, "name": name})["uri"]
        try:
            uploaded = self.client.upload_rows(uri, rows)
            sync = self.client.start_sync(uri)
        except BaseException:
            self.forget(uri)
            raise
        self.ctx.log.info("batch of %s %s uploaded in %s file(s), sync %s", uploaded.rows, self.noun, uploaded.files,
                          sync["uri"])
        pending = {"definition_uri": uri, "sync_uri": sync["uri"], "entries": entries}
        self.save(pending)  # from here on an interruption resumes by waiting for this sync
        self.settle(pending)

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
        self.outcomes(entries, sync, self.rejects(sync, len(entries)))
        self.sent += len(entries)
        self.forget(pending["definition_uri"])

    def outcomes(self, entries: list[list[Any]], sync: dict[str, Any], rejects: dict[int, dict[str, Any]]) -> None:
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
        """Best effort: a definition left behind costs nothing but clutter."""
        try:
            self.client.delete_definition(uri)
        except EloquaError:
            pass


def reject_message(item: dict[str, Any]) -> str:
    fields = ", ".join(item.get("invalidFields") or ()) or "the row"
    return f"Eloqua rejected it ({fields}): {item.get('message') or 'no reason given'}"
