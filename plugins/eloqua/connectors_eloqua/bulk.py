"""Bulk API 2.0 (spec §3): definitions, syncs and their logs and rejects; uploads and export
data are in ``bulk_data.py``, whole imports and exports in ``bulk_jobs.py``.

Two creates here must not happen twice. A definition create that may have happened is looked
up by name (and fields) before it is sent again. A sync start that may have happened is looked
up among the definition's syncs this client did not start itself — so give each batch its own
definition, as ``bulk_jobs`` does. Polling waits with growing, jittered delays up to a deadline
(default 6 h, as tap-eloqua learnt) and then raises ``BulkSyncTimeout`` with the sync's URI so a
later run can resume polling instead of starting over.
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from .bulk_data import BulkDataApi
from .bulk_jobs import BulkJobsMixin
from .creates import create_checked
from .errors import BulkSyncError, BulkSyncTimeout, EloquaError
from .rest import term
from .retry import PollPolicy

BULK_LIMIT = 1000
RUNNING, DONE = ("pending", "active"), ("success", "warning")
_SYNC_ID = re.compile(r"/syncs/(\d+)$")


class BulkApi(BulkDataApi, BulkJobsMixin):
    # -- catalogues ---------------------------------------------------------------------------------
    def bulk_items(self, path: str, params: Mapping[str, Any] | None = None, limit: int = BULK_LIMIT
                   ) -> Iterator[dict[str, Any]]:
        """Every item of a Bulk listing, ``limit`` at a time (offset advances by what came back)."""
        offset = 0
        while True:
            body = self.bulk("GET", path, params={**(params or {}), "limit": limit, "offset": offset}) or {}
            items = body.get("items") or []
            yield from items
            if not items or not body.get("hasMore"):
                return
            offset += len(items)

    def bulk_contact_fields(self) -> list[dict[str, Any]]:
        """Contact fields with ``internalName``, ``dataType``, ``statement`` and constraints."""
        return list(self.bulk_items("contacts/fields"))

    # -- definitions ---------------------------------------------------------------------------------
    def create_definition(self, path: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        """``path`` is e.g. "contacts/imports", "contacts/exports", "contacts/syncActions",
        "customObjects/9/imports" or "activities/exports"; returns the definition with its ``uri``."""
        body = dict(definition)

        def find() -> dict[str, Any] | None:
            same = [d for d in self.bulk_items(path, {"q": term("name", body.get("name", ""))})
                    if d.get("name") == body.get("name") and d.get("fields") == body.get("fields")]
            return max(same, key=lambda d: int(d["uri"].rsplit("/", 1)[-1])) if same else None

        return create_checked(self, lambda: self.bulk("POST", path, json=body, idempotent=False), find)

    def get_definition(self, uri: str) -> dict[str, Any]:
        return self.bulk("GET", uri)

    def delete_definition(self, uri: str) -> None:
        self.bulk("DELETE", uri)

    def clear_staging(self, uri: str) -> None:
        """Free the staging area of an import or sync action definition."""
        self.bulk("DELETE", f"{uri}/data")

    # -- syncs ---------------------------------------------------------------------------------------------
    def start_sync(self, definition_uri: str, callback_url: str | None = None) -> dict[str, Any]:
        body = {"syncedInstanceUri": definition_uri, **({"callbackUrl": callback_url} if callback_url else {})}
        started = self._started_syncs

        def find() -> dict[str, Any] | None:
            theirs = [s for s in self.bulk_items("syncs", {"q": term("syncedInstanceUri", definition_uri)})
                      if s.get("syncedInstanceUri") == definition_uri and s.get("uri") not in started]
            return max(theirs, key=lambda s: sync_id(s["uri"])) if theirs else None

        sync = create_checked(self, lambda: self.bulk("POST", "syncs", json=body, idempotent=False), find)
        started.add(sync["uri"])
        return sync

    def get_sync(self, sync_uri: str) -> dict[str, Any]:
        return self.bulk("GET", sync_uri)

    def wait_for_sync(self, sync_uri: str, policy: PollPolicy | None = None) -> dict[str, Any]:
        """The sync once it ended ``success`` or ``warning``; ``BulkSyncError`` if it ended
        ``error`` (with its logs), ``BulkSyncTimeout`` if it is still running at the deadline."""
        policy = policy or self.poll
        started, polls = self.clock(), 0
        while True:
            sync = self.get_sync(sync_uri)
            status = sync.get("status")
            if status in DONE:
                return sync
            if status not in RUNNING:
                logs = self.sync_logs(sync_uri)
                details = "; ".join(f"{i.get('statusCode')} {i.get('message')}" for i in logs
                                    if i.get("severity") != "information")
                raise BulkSyncError(f"sync {sync_uri} ended {status}: {details or 'no details'}", sync=sync, logs=logs)
            polls += 1
            left = policy.deadline - (self.clock() - started)
            if left <= 0:
                raise BulkSyncTimeout(f"sync {sync_uri} still {status} after {policy.deadline:g} s", sync_uri=sync_uri,
                                      status=status)
            self.sleep(min(policy.delay(polls, self.rng), left))

    def sync_logs(self, sync_uri: str) -> list[dict[str, Any]]:
        return list(self.bulk_items(f"{sync_uri}/logs"))

    def sync_rejects(self, sync_uri: str) -> Iterator[dict[str, Any]]:
        """Rejected rows (``recordIndex`` is 1-based in the sync's uploaded data), 1000 a page."""
        return self.bulk_items(f"{sync_uri}/rejects", limit=BULK_LIMIT)


def sync_id(uri: str) -> int:
    found = _SYNC_ID.search(uri or "")
    if not found:
        raise EloquaError(f"not a sync URI: {uri!r}")
    return int(found[1])
