"""Moving Bulk data (spec §3.1, §3.4, §3.6): uploads cut into JSON files under the size limit
(32 MB a request; 500 files a sync), and export data read page by page as a generator that
holds one page at a time and carries its own bookmark (``offset``) so a run can resume.

An upload is not idempotent (the same rows staged twice would be imported twice): if one
fails in a way that leaves open whether it was staged, the staging area is cleared and the
whole batch sent again from its first row — when the rows can be read again (a sequence) —
else the failure is raised with the staging area already cleared. A data page that comes
back empty while ``hasMore`` says otherwise (spec §5.4 #4) is asked again at the same offset a
few times, never skipped and never looped on forever.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from .errors import EloquaAmbiguousError, EloquaError, EloquaNotFound, ExportExpired, UploadTooLarge

#: Eloqua refuses bodies over 32 MB (with a 404); stay clearly under it
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
MAX_FILES_PER_SYNC = 500
DEFAULT_PAGE = 5000
MAX_PAGE = 50_000
EMPTY_PAGE_RETRIES = 3


@dataclass(frozen=True)
class UploadResult:
    rows: int
    files: int
    bytes: int


@dataclass(frozen=True)
class ExportPage:
    items: list[dict[str, Any]]
    offset: int        # where this page starts
    next_offset: int   # the bookmark to resume from
    total: int
    has_more: bool


class BulkDataApi:
    def upload_rows(self, definition_uri: str, rows: Iterable[dict[str, Any]], *,
                    max_bytes: int = MAX_UPLOAD_BYTES, max_files: int = MAX_FILES_PER_SYNC) -> UploadResult:
        """Stage ``rows`` (dicts keyed by the definition's field names) in as few files as fit."""
        for attempt in (1, 2):
            try:
                return self._upload(definition_uri, rows, max_bytes, max_files)
            except EloquaAmbiguousError as exc:
                self.clear_staging(definition_uri)
                if attempt == 2 or not isinstance(rows, Sequence):
                    raise EloquaAmbiguousError(f"{exc.message}; the staging area was cleared: upload the batch "
                                               "again", status=exc.status, url=exc.url) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _upload(self, uri: str, rows: Iterable[dict[str, Any]], max_bytes: int, max_files: int) -> UploadResult:
        files = count = size = 0
        try:
            for chunk, in_chunk in _chunks(rows, max_bytes):
                if files == max_files:
                    raise UploadTooLarge(f"more than {max_files} files for one sync: split the batch")
                try:
                    self.bulk("POST", f"{uri}/data", data=chunk, idempotent=False,
                              headers={"Content-Type": "application/json"})
                except EloquaNotFound as exc:  # Eloqua's answer to a body over its limit
                    raise UploadTooLarge(f"Eloqua refused a {len(chunk)}-byte upload (404): lower max_bytes",
                                         status=404, url=exc.url) from exc
                files, count, size = files + 1, count + in_chunk, size + len(chunk)
        except UploadTooLarge:
            self.clear_staging(uri)  # half a batch must not be imported
            raise
        return UploadResult(count, files, size)

    def export_pages(self, sync_uri: str, *, limit: int = DEFAULT_PAGE, offset: int = 0) -> Iterator[ExportPage]:
        """Pages of an export sync's data from ``offset`` on; ``ExportExpired`` once the data's
        retention is over (404/410): start a new export then."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1..{MAX_PAGE}")
        empty = 0
        while True:
            body = self._data_page(sync_uri, limit, offset)
            items = body.get("items") or []
            has_more = bool(body.get("hasMore"))
            if not items and has_more:
                empty += 1
                if empty > EMPTY_PAGE_RETRIES:
                    raise EloquaError(f"{sync_uri}/data keeps answering empty pages with hasMore at offset {offset}")
                self.sleep(self.transport.retry.delay(empty, self.rng))
                continue
            empty = 0
            next_offset = offset + len(items)
            yield ExportPage(items, offset, next_offset, int(body.get("totalResults") or 0), has_more)
            if not has_more or not items:
                return
            offset = next_offset

    def export_rows(self, sync_uri: str, *, limit: int = DEFAULT_PAGE, offset: int = 0) -> Iterator[dict[str, Any]]:
        for page in self.export_pages(sync_uri, limit=limit, offset=offset):
            yield from page.items

    def _data_page(self, sync_uri: str, limit: int, offset: int) -> dict[str, Any]:
        try:
            return self.bulk("GET", f"{sync_uri}/data", params={"limit": limit, "offset": offset}) or {}
        except EloquaNotFound as exc:
            raise ExportExpired(f"the data of {sync_uri} is gone (404): export again", status=404, url=exc.url) from exc
        except EloquaError as exc:
            if exc.status == 410:
                raise ExportExpired(f"the data of {sync_uri} expired (410): export again", status=410,
                                    url=exc.url) from exc
            raise


def _chunks(rows: Iterable[dict[str, Any]], max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """JSON arrays of at most ``max_bytes`` each, built a row at a time."""
    parts: list[bytes] = []
    size = 2  # the brackets
    for row in rows:
        encoded = json.dumps(row, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")
        if len(encoded) + 2 > max_bytes:
            raise UploadTooLarge(f"one row alone is {len(encoded)} bytes, over the {max_bytes}-byte upload limit")
        if parts and size + 1 + len(encoded) > max_bytes:
            yield b"[" + b",".join(parts) + b"]", len(parts)
            parts, size = [], 2
        size += len(encoded) + (1 if parts else 0)
        parts.append(encoded)
    if parts:
        yield b"[" + b",".join(parts) + b"]", len(parts)
