"""The Bulk engine (spec §3.1, §7.3): definitions, their staged uploads, and syncs moving
``pending -> active -> success | warning | error`` on status polls and the sandbox clock.

Plain Python, no HTTP (the routes are in ``bulk_routes.py`` and ``sync_routes.py``), so tests
reach it as ``sandbox.bulk``. The work of a sync (``bulk_import.py``, ``bulk_export.py``) is
done when it ends, under the sandbox lock: what a client reads afterwards is consistent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import bulk_export, bulk_import
from .bulk_defs import EXPORTS, Definition
from .bulk_faults import BulkFaults, SyncScript
from .responses import iso

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

PENDING, ACTIVE, SUCCESS, WARNING, ERROR = "pending", "active", "success", "warning", "error"
FINAL = (SUCCESS, WARNING, ERROR)
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_FILES_PER_SYNC = 500
ACTIVITY_EXPORT_CAP = 5_000_000
STAGING_KB_PER_CONTACT = 50


@dataclass
class Sync:
    id: int
    definition: Definition
    created_at: float
    created_by: str
    script: SyncScript
    callback_url: str | None = None
    status: str = PENDING
    started_at: float | None = None
    ended_at: float | None = None
    polls: int = 0  # status polls seen in the current state
    state_since: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)  # an import's uploaded rows, in order
    logs: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    export: list[dict[str, Any]] | None = None
    data_expires_at: float | None = None

    @property
    def uri(self) -> str:
        return f"/syncs/{self.id}"

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"syncedInstanceUri": self.definition.uri, "status": self.status,
                               "createdAt": iso(self.created_at), "createdBy": self.created_by, "uri": self.uri}
        if self.started_at is not None:
            out["syncStartedAt"] = iso(self.started_at)
        if self.ended_at is not None:
            out["syncEndedAt"] = iso(self.ended_at)
        if self.callback_url:
            out["callbackUrl"] = self.callback_url
        return out

    def log(self, code: str, message: str, count: int = 0, severity: str = "information", at: float = 0.0) -> None:
        self.logs.append({"syncUri": self.uri, "count": count, "severity": severity, "statusCode": code,
                          "message": message, "createdAt": iso(at)})


class SyncConflict(Exception):
    """A second sync on a definition whose sync is still running."""


class BulkEngine:
    def __init__(self, sandbox: "EloquaSandbox"):
        self.sandbox = sandbox
        self.faults = BulkFaults()
        self.definitions: dict[int, Definition] = {}
        self.syncs: dict[int, Sync] = {}
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        self.max_files_per_sync = MAX_FILES_PER_SYNC
        self.staging_quota_bytes: int | None = None  # None: licensed contacts (10,000) x 50 KB
        self.activity_export_cap = ACTIVITY_EXPORT_CAP
        self.conflict_status: int | None = 409      # None: the second sync is accepted and ends ``error``
        self.expired_status = 410                   # what export data answers once its retention is over
        self._next_def, self._next_sync = 384, 1196

    # -- definitions ---------------------------------------------------------------------------------
    def next_definition_id(self) -> int:
        self._next_def += 1
        return self._next_def

    def add_definition(self, definition: Definition) -> Definition:
        self.definitions[definition.id] = definition
        return definition

    def definition(self, uri_kind: str, entity: str, parent: int | None, def_id: int) -> Definition | None:
        found = self.definitions.get(def_id)
        if found is None or found.deleted or found.kind != uri_kind or found.entity != entity or found.parent != parent:
            return None
        return found

    def delete_definition(self, definition: Definition) -> None:
        """Deleting a definition while its sync runs makes that sync end ``error`` (ELQ-00143)."""
        definition.deleted = True
        definition.staged.clear()

    def staged_bytes(self) -> int:
        return sum(d.staged_bytes for d in self.definitions.values() if not d.deleted)

    @property
    def staging_quota(self) -> int:
        if self.staging_quota_bytes is not None:
            return self.staging_quota_bytes
        return 10_000 * STAGING_KB_PER_CONTACT * 1024

    # -- syncs ---------------------------------------------------------------------------------------
    def running(self, definition: Definition) -> Sync | None:
        return next((s for s in self.syncs.values() if s.definition is definition and s.status not in FINAL), None)

    def start(self, definition: Definition, callback_url: str | None = None) -> Sync:
        running = self.running(definition)
        if running is not None and self.conflict_status is not None:
            raise SyncConflict(f"{running.uri} is still {running.status}")
        self._next_sync += 1
        now = self.sandbox.now()
        sync = Sync(self._next_sync, definition, now, self.sandbox.current_username(),
                    self.faults.script_for_next_sync(), callback_url, state_since=now)
        if running is not None:
            sync.script = SyncScript(end_with=("ELQ-00122", f"Another sync ({running.uri}) is running on this definition."))
        if definition.kind != EXPORTS:
            sync.rows = [row for upload in definition.staged for row in upload]
            definition.staged.clear()
            definition.staged_bytes = 0
        self.syncs[sync.id] = sync
        return sync

    def observe(self, sync: Sync, poll: bool = True) -> Sync:
        """Move the sync along as far as its script and the clock allow; a status poll counts."""
        script, now = sync.script, self.sandbox.now()
        waited = now - sync.state_since
        if sync.status == PENDING and sync.polls >= script.pending_polls and waited >= script.pending_seconds:
            sync.status, sync.started_at, sync.polls, sync.state_since = ACTIVE, now, 0, now
            if script.retry_log:
                sync.log("ELQ-00145", "The sync failed temporarily; an automatic retry is scheduled.", 0, "warning", now)
        if sync.status == ACTIVE and sync.polls >= script.active_polls and now - sync.state_since >= script.active_seconds:
            self._finish(sync, now)
        if poll and sync.status not in FINAL:
            sync.polls += 1
        return sync

    def settle(self, sync: Sync, max_polls: int = 1000) -> Sync:
        """Poll the sync until it ends (tests, the demo); a stuck one is still running after."""
        for _ in range(max_polls):
            if sync.status in FINAL:
                break
            self.observe(sync)
        return sync

    def _finish(self, sync: Sync, now: float) -> None:
        definition = sync.definition
        if definition.deleted:
            sync.log("ELQ-00143", "The definition was deleted during the sync.", 0, "error", now)
            status = ERROR
        elif sync.script.end_with is not None:
            code, message = sync.script.end_with
            sync.log(code, message, 0, "error", now)
            status = ERROR
        elif definition.kind == EXPORTS:
            bulk_export.process(self.sandbox, sync, now)
            sync.data_expires_at = now + definition.retention_seconds
            status = SUCCESS
        else:
            bulk_import.process(self.sandbox, sync, now)
            status = WARNING if sync.rejects else SUCCESS
        sync.status, sync.ended_at = status, now
        sync.log("ELQ-00101", f"Sync processed for sync {sync.id}, resulting in {status.capitalize()} status.", 0,
                 "information" if status == SUCCESS else "warning" if status == WARNING else "error", now)

    def expired(self, sync: Sync) -> bool:
        return sync.data_expires_at is not None and self.sandbox.now() >= sync.data_expires_at

    def expire(self, sync_id: int | None = None) -> None:
        """Export data of this sync (default: every sync) is past its retention now."""
        now = self.sandbox.now()
        for sync in self.syncs.values():
            if sync_id is None or sync.id == sync_id:
                if sync.data_expires_at is not None:
                    sync.data_expires_at = now
