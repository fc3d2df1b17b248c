"""A whole Bulk import or export in one call (spec §3.1): definition, upload, sync, wait, and for
imports the rejects mapped back to the rows given — ``recordIndex`` is 1-based in the order the
rows were uploaded, so row ``recordIndex - 1`` of the input (grouparoo#1975, rudder-server#3996).
Each batch gets its own definition, deleted afterwards (as rudder-server does), so a sync start
that may have failed can be checked against the definition's syncs without ambiguity."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .bulk_data import DEFAULT_PAGE
from .errors import BulkSyncTimeout, EloquaError
from .retry import PollPolicy


@dataclass(frozen=True)
class Reject:
    row: int                      # 0-based position in the rows given to ``run_import``
    record_index: int             # Eloqua's 1-based ``recordIndex``
    code: str
    message: str
    invalid_fields: tuple[str, ...]
    values: dict[str, Any]


@dataclass
class ImportResult:
    definition_uri: str
    sync_uri: str
    status: str                   # success | warning
    rows: int
    files: int
    rejects: list[Reject] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def count(self, code: str) -> int:
        """The ``count`` of a log code, e.g. ELQ-00004 (created) or ELQ-00022 (updated)."""
        return sum(int(item.get("count") or 0) for item in self.logs if item.get("statusCode") == code)


@dataclass(frozen=True)
class ExportHandle:
    definition_uri: str
    sync_uri: str
    total: int  # rows exported, from the ELQ-00102 log


class BulkJobsMixin:
    def run_import(self, path: str, definition: Mapping[str, Any], rows: Iterable[dict[str, Any]], *,
                   poll: PollPolicy | None = None, keep_definition: bool = False) -> ImportResult:
        """Import ``rows`` through a new definition at ``path`` ("contacts/imports",
        "customObjects/9/imports", "contacts/syncActions" …). ``BulkSyncError`` if the sync
        ends ``error``; ``BulkSyncTimeout`` (with the sync URI) if it outlasts the deadline."""
        uri = self.create_definition(path, definition)["uri"]
        try:
            uploaded = self.upload_rows(uri, rows)
            sync = self.wait_for_sync(self.start_sync(uri)["uri"], poll)
            rejects = [_reject(item) for item in self.sync_rejects(sync["uri"])] if sync["status"] == "warning" else []
            result = ImportResult(uri, sync["uri"], sync["status"], uploaded.rows, uploaded.files, rejects,
                                  self.sync_logs(sync["uri"]))
        except BulkSyncTimeout:
            raise  # the sync may still finish: keep its definition so polling can resume
        except BaseException:
            if not keep_definition:
                self._forget(uri)
            raise
        if not keep_definition:
            self._forget(uri)
        return result

    def run_export(self, path: str, definition: Mapping[str, Any], *, poll: PollPolicy | None = None) -> ExportHandle:
        """Create the export definition and run its sync to the end; read the rows with
        ``export_rows(handle.sync_uri)`` (or ``export_pages`` to keep a bookmark), then
        ``delete_definition(handle.definition_uri)``."""
        uri = self.create_definition(path, definition)["uri"]
        try:
            sync = self.wait_for_sync(self.start_sync(uri)["uri"], poll)
        except BulkSyncTimeout:
            raise
        except EloquaError:
            self._forget(uri)
            raise
        total = sum(int(i.get("count") or 0) for i in self.sync_logs(sync["uri"]) if i.get("statusCode") == "ELQ-00102")
        return ExportHandle(uri, sync["uri"], total)

    def export_all(self, path: str, definition: Mapping[str, Any], *, limit: int = DEFAULT_PAGE,
                   poll: PollPolicy | None = None) -> list[dict[str, Any]]:
        """Small exports only (a lookup, a check): every row in a list, definition deleted."""
        handle = self.run_export(path, definition, poll=poll)
        try:
            return list(self.export_rows(handle.sync_uri, limit=limit))
        finally:
            self._forget(handle.definition_uri)

    def _forget(self, uri: str) -> None:
        """Best effort: a definition left behind costs nothing but clutter."""
        try:
            self.delete_definition(uri)
        except EloquaError:
            pass


def _reject(item: dict[str, Any]) -> Reject:
    index = int(item.get("recordIndex") or 0)
    return Reject(index - 1, index, str(item.get("statusCode") or ""), str(item.get("message") or ""),
                  tuple(item.get("invalidFields") or ()), dict(item.get("fieldValues") or {}))
