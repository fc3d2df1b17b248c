"""Bulk Lead Extract, client side (spec §4.1, §5.4-5.5): create -> enqueue -> wait -> download
-> rows, and an export a job can resume after a crash.

What peers got wrong and this module does not: a daily-quota 1029 fails fast (never retried
forever); "Completed" is not trusted until the file answers (probed with ``Range: bytes=0-0``);
a download is verified against ``fileChecksum`` and resumed with ``Range`` after a short read
or a dropped connection; memory stays flat whatever the file size (the file goes to a temporary
file while it is hashed, then is parsed row by row by ``csvstream``).
"""
from __future__ import annotations

import copy
import hashlib
import logging
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

import requests

from .csvstream import BadRow, CsvRows, raise_bad_row
from .errors import TOKEN_CODES, MarketoError, MarketoQuotaExhausted, classify

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    from .client import MarketoClient

EXPORT = "/v1/leads/export"
COMPLETED = "Completed"
CANCELLED = ("Cancelled", "Canceled")  # the docs spell it both ways
#: what status.json answers for an export it does not know (any more) [inference]
GONE_CODES = frozenset({"1003", "1013", "610"})


class BulkExportError(MarketoError):
    """An export ended badly: failed, cancelled, timed out, or its file could not be fetched."""

    def __init__(self, code: str, message: str, export_id: str | None = None):
        super().__init__(code, message)
        self.export_id = export_id


class BulkExportGone(BulkExportError):
    """The export or its file no longer exists (files are kept 7 days): start a new export."""


@dataclass(frozen=True)
class ExportSpec:
    """What to export: REST field names, exactly one filter, the file format."""

    fields: tuple[str, ...]
    filter: Mapping[str, Any]
    format: str = "CSV"
    column_header_names: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"fields": list(self.fields), "format": self.format, "filter": dict(self.filter)}
        if self.column_header_names:
            body["columnHeaderNames"] = dict(self.column_header_names)
        return body


def bulk_endpoint(client: "MarketoClient") -> str:
    """``<host>/bulk``: bulk paths live beside ``/rest``, not under it (spec §1.1)."""
    explicit = getattr(client, "bulk_endpoint", None)
    if explicit:
        return str(explicit).rstrip("/")
    rest = client.rest_endpoint.rstrip("/")
    if not rest.endswith("/rest"):
        raise ValueError(f"cannot derive the bulk endpoint from {rest!r} (expected it to end in /rest)")
    return rest[: -len("/rest")] + "/bulk"


class BulkExporter:
    """Bulk Lead Extract over a ``MarketoClient``: JSON calls go through the client's
    ``request()`` (token, pacing, retries, error classes); file downloads use its session and
    token directly, because they are not JSON."""

    def __init__(self, client: "MarketoClient", *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, chunk_size: int = 1 << 16,
                 download_attempts: int = 5, restarts: int = 2, missing_file_probes: int = 3,
                 missing_file_wait: float = 60.0, queue_full_attempts: int = 5, queue_full_wait: float = 60.0,
                 temp_dir: str | None = None):
        self.client = client
        self.base_url = bulk_endpoint(client)
        # the same client (shared session, token cache, limiter), its base moved to /bulk
        self._api = copy.copy(client)
        self._api.rest_endpoint = self.base_url
        self._sleep, self._clock = sleep, clock
        self.chunk_size = chunk_size
        self.download_attempts, self.restarts = download_attempts, restarts
        self.missing_file_probes, self.missing_file_wait = missing_file_probes, missing_file_wait
        self.queue_full_attempts, self.queue_full_wait = queue_full_attempts, queue_full_wait
        self.temp_dir = temp_dir

    # -- the job --------------------------------------------------------------------------------
    def create(self, fields: Iterable[str], filter: Mapping[str, Any], format: str = "CSV",
               column_header_names: Mapping[str, str] | None = None) -> str:
        """A new export (status Created); returns its ``exportId``."""
        spec = ExportSpec(tuple(fields), filter, format, column_header_names or {})
        record = self._first(self._api.request("POST", f"{EXPORT}/create.json", json=spec.body()), "create")
        if not record.get("exportId"):
            raise BulkExportError("bulk-create", f"create answered without an exportId: {record}")
        return str(record["exportId"])

    def enqueue(self, export_id: str) -> dict[str, Any]:
        """Queue the export. "Job already queued" counts as done; "Too many jobs in queue" is
        retried a few times, then raised; a spent daily quota is raised at once."""
        for attempt in range(1, self.queue_full_attempts + 1):
            try:
                return self._first(self._api.request("POST", f"{EXPORT}/{export_id}/enqueue.json"), "enqueue")
            except MarketoQuotaExhausted as exc:
                text = exc.message.lower()
                if "already queued" in text:
                    return self.status(export_id)
                if "too many jobs" not in text or attempt == self.queue_full_attempts:
                    raise
                self._sleep(self.queue_full_wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self, export_id: str) -> dict[str, Any]:
        return self._first(self._api.request("GET", f"{EXPORT}/{export_id}/status.json"), "status")

    def cancel(self, export_id: str) -> dict[str, Any]:
        return self._first(self._api.request("POST", f"{EXPORT}/{export_id}/cancel.json"), "cancel")

    def jobs(self, statuses: Iterable[str] = ()) -> list[dict[str, Any]]:
        """This API user's exports of the past 7 days, optionally of some statuses only."""
        params = {"status": ",".join(statuses)} if statuses else {}
        found: list[dict[str, Any]] = []
        while True:
            response = self._api.request("GET", f"{EXPORT}.json", params=params)
            found.extend(response.result)
            if not (response.next_page_token and response.result):
                return found
            params = dict(params, nextPageToken=response.next_page_token)

    def _cancel_quietly(self, export_id: str) -> None:
        try:
            self.cancel(export_id)
        except Exception as exc:  # noqa: BLE001 - the timeout is the error to report
            log.warning("could not cancel export %s: %s", export_id, exc)

    def wait(self, export_id: str, poll_interval: float = 60.0, deadline: float = 3 * 3600.0, *,
             max_interval: float = 300.0, backoff: float = 1.5, sleep: Callable[[float], None] | None = None
             ) -> dict[str, Any]:
        """Poll until Completed and return that status. Enqueues a Created export. Polls grow
        from ``poll_interval`` to ``max_interval``; ``deadline`` is seconds from now."""
        sleep = sleep or self._sleep
        started, interval = self._clock(), poll_interval
        while True:
            status = self.status(export_id)
            state = status.get("status")
            if state == COMPLETED:
                return status
            if state == "Failed":
                raise BulkExportError("bulk-failed", f"export {export_id} failed: {status.get('errorMsg') or 'no reason given'}",
                                      export_id)
            if state in CANCELLED:
                raise BulkExportError("bulk-cancelled", f"export {export_id} was cancelled", export_id)
            if state == "Created":
                self.enqueue(export_id)
            elapsed = self._clock() - started
            if elapsed >= deadline:
                self._cancel_quietly(export_id)  # else it keeps one of the 10 queue places (1029)
                raise BulkExportError("bulk-timeout", f"export {export_id} still {state} after {elapsed:.0f} s; "
                                      "cancelled", export_id)
            sleep(min(interval, deadline - elapsed))
            interval = min(max_interval, interval * backoff)

    # -- the file -------------------------------------------------------------------------------
    def stream_records(self, export_id: str, expected_checksum: str | None = None, chunk_size: int | None = None, *,
                       expected_size: int | None = None, format: str | None = None, skip: int = 0,
                       on_bad_row: Callable[[BadRow], None] = raise_bad_row) -> Iterator[dict[str, Any]]:
        """The rows of a completed export, one dict at a time (see ``open_records``)."""
        status = None
        if expected_checksum is None or format is None:
            status = self.status(export_id)
        with self.open_records(export_id, status, skip=skip, on_bad_row=on_bad_row, chunk_size=chunk_size,
                               expected_checksum=expected_checksum, expected_size=expected_size, format=format) as rows:
            yield from rows

    @contextmanager
    def open_records(self, export_id: str, status: Mapping[str, Any] | None = None, *, skip: int = 0,
                     on_bad_row: Callable[[BadRow], None] = raise_bad_row, chunk_size: int | None = None,
                     expected_checksum: str | None = None, expected_size: int | None = None,
                     format: str | None = None) -> Iterator[CsvRows]:
        """Download and verify the file, then give a ``CsvRows`` over it (``rows_read`` tells
        the position). Checksum, size and format come from ``status`` unless given."""
        status = status or {}
        with self.download(export_id, expected_size if expected_size is not None else status.get("fileSize"),
                           expected_checksum or status.get("fileChecksum"), chunk_size) as sink:
            yield CsvRows(sink, format or status.get("format") or "CSV", skip=skip, on_bad_row=on_bad_row,
                          chunk_size=chunk_size or self.chunk_size)

    @contextmanager
    def download(self, export_id: str, expected_size: int | None = None, expected_checksum: str | None = None,
                 chunk_size: int | None = None) -> Iterator[IO[bytes]]:
        """The export file in a temporary file (deleted on exit), complete and verified."""
        with tempfile.TemporaryFile(dir=self.temp_dir) as sink:
            _Download(self, export_id, sink, expected_size, _sha256(expected_checksum), chunk_size or self.chunk_size).run()
            sink.seek(0)
            yield sink

    def get_file(self, export_id: str, range_header: str | None = None) -> requests.Response:
        """One streamed GET of the file. A refused token is refreshed (through a JSON call, which
        replays with a new one) and the GET tried once more; other envelope errors are raised."""
        url = f"{self.base_url}{EXPORT}/{export_id}/file.json"
        headers = {"Range": range_header} if range_header else {}
        for replay in (False, True):
            headers["Authorization"] = f"Bearer {self.client.access_token()}"
            response = self.client.session.get(url, headers=headers, stream=True, timeout=self.client.timeout)
            if "json" not in response.headers.get("Content-Type", ""):
                return response
            try:
                body = response.json()
            except ValueError:
                return response
            finally:
                response.close()
            error = (body.get("errors") or [{}])[0] if isinstance(body, dict) else {}
            code, message = str(error.get("code", "invalid-body")), str(error.get("message", "unexpected JSON"))
            if code in TOKEN_CODES and not replay:
                self.status(export_id)  # the client sees the same refusal and fetches a new token
                continue
            if classify(code) == "quota":
                raise MarketoQuotaExhausted(code, message, body.get("requestId"))
            raise _Retryable(code, message) if classify(code) == "retry" else MarketoError(code, message, body.get("requestId"))
        raise MarketoError("601", "the file endpoint refused a fresh token")

    def _first(self, response: Any, what: str) -> dict[str, Any]:
        if not response.result:
            raise BulkExportError(f"bulk-{what}", f"{what} answered without a result")
        return dict(response.result[0])


class ResumableExport:
    """An export a job survives a crash in. ``state`` — ``{"export_id": str | None, "rows_done":
    int}`` — is what the job checkpoints (``save`` is called with it every ``checkpoint_every``
    rows, right after a new export is created, and at the end): that export's first
    ``rows_done`` rows were handled. Resuming re-streams a still Completed export and skips
    them, or waits for one still running; an export that is gone (unknown id, expired file,
    Failed, Cancelled) is replaced by a new one and the count starts over, so handling a row
    must be idempotent (an upsert)."""

    def __init__(self, exporter: BulkExporter, spec: ExportSpec, state: Mapping[str, Any] | None = None, *,
                 save: Callable[[dict[str, Any]], None] | None = None, checkpoint_every: int = 1000,
                 poll_interval: float = 60.0, deadline: float = 3 * 3600.0,
                 on_bad_row: Callable[[BadRow], None] = raise_bad_row):
        self.exporter, self.spec = exporter, spec
        state = state or {}
        self.state: dict[str, Any] = {"export_id": state.get("export_id"), "rows_done": int(state.get("rows_done") or 0)}
        self._save, self._every, self._saved = save, max(1, checkpoint_every), self.state["rows_done"]
        self._wait = {"poll_interval": poll_interval, "deadline": deadline}
        self.on_bad_row = on_bad_row
        self.new_exports = 0  # how many exports this run had to create

    def records(self) -> Iterator[dict[str, Any]]:
        export_id = self.state["export_id"]
        if export_id:
            status = self._reusable(export_id)
            if status is not None:
                try:
                    yield from self._stream(export_id, status)
                    return
                except BulkExportGone:
                    pass
        export_id = self._start()
        yield from self._stream(export_id, self.exporter.wait(export_id, **self._wait))

    def _reusable(self, export_id: str) -> dict[str, Any] | None:
        """The Completed status of the saved export (waiting for it if still running), or None."""
        try:
            status = self.exporter.status(export_id)
            if status.get("status") in ("Created", "Queued", "Processing"):
                status = self.exporter.wait(export_id, **self._wait)
        except BulkExportError as exc:
            if exc.code in ("bulk-failed", "bulk-cancelled"):
                return None
            raise
        except MarketoError as exc:
            if exc.code in GONE_CODES and not isinstance(exc, MarketoQuotaExhausted):
                return None
            raise
        return status if status.get("status") == COMPLETED else None

    def _start(self) -> str:
        spec = self.spec
        export_id = self.exporter.create(spec.fields, spec.filter, spec.format, spec.column_header_names)
        self.new_exports += 1
        self.state = {"export_id": export_id, "rows_done": 0}
        self._mark(0, force=True)  # a crash from here on resumes this export, not a new one
        self.exporter.enqueue(export_id)
        return export_id

    def _stream(self, export_id: str, status: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        with self.exporter.open_records(export_id, status, skip=self.state["rows_done"],
                                        on_bad_row=self.on_bad_row) as rows:
            for row in rows:
                self._mark(rows.rows_read - 1)  # the caller asked for more: the rows before are done
                yield row
            self._mark(rows.rows_read, force=True)

    def _mark(self, rows_done: int, force: bool = False) -> None:
        self.state["rows_done"] = rows_done
        if self._save is not None and (force or rows_done - self._saved >= self._every):
            self._save(dict(self.state))
            self._saved = rows_done


class _Retryable(MarketoError):
    """A transient error met while fetching the file."""


class _Download:
    """One verified download: resumes with ``Range`` after a short read or a dropped connection,
    starts over when the bytes are wrong, probes a missing file before giving up on it."""

    def __init__(self, exporter: BulkExporter, export_id: str, sink: IO[bytes], size: int | None,
                 digest: str | None, chunk_size: int):
        self.x, self.export_id, self.sink = exporter, export_id, sink
        self.size, self.digest, self.chunk_size = size, digest, chunk_size
        self.hasher, self.have = hashlib.sha256(), 0
        self.failures = self.restarts = 0

    def run(self) -> None:
        while True:
            if self._fetch() and self._complete():
                return

    def _fetch(self) -> bool:
        """One GET from ``have`` on; False when it failed in a way worth another try."""
        try:
            response = self.x.get_file(self.export_id, f"bytes={self.have}-" if self.have else None)
        except (requests.ConnectionError, requests.Timeout, _Retryable) as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        with response:
            if response.status_code == 404:
                self._await_file()
                return self._failed("the file was missing")
            if response.status_code == 416 or (response.status_code == 200 and self.have):
                self._restart("the server did not resume where asked")
                return False
            if response.status_code >= 500:
                return self._failed(f"HTTP {response.status_code}")
            if response.status_code not in (200, 206):
                raise BulkExportError(f"bulk-http-{response.status_code}", response.text[:200], self.export_id)
            if response.status_code == 206 and not response.headers.get("Content-Range", "").startswith(f"bytes {self.have}-"):
                self._restart(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
                return False
            if self.size is None:
                self.size = _total(response, self.have)
            try:
                for chunk in response.iter_content(self.chunk_size):
                    self.sink.write(chunk)
                    self.hasher.update(chunk)
                    self.have += len(chunk)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                return self._failed(f"connection lost after {self.have} bytes: {exc}")
        return True

    def _complete(self) -> bool:
        """Is what we have the whole, right file? Schedules the next step when not."""
        if self.size is not None and self.have < self.size:
            self._failed(f"short read: {self.have} of {self.size} bytes")
            return False
        if self.size is not None and self.have > self.size:
            self._restart(f"{self.have} bytes, more than the {self.size} announced")
            return False
        if self.digest is not None and self.hasher.hexdigest() != self.digest:
            self._restart("checksum mismatch")
            return False
        return True

    def _failed(self, why: str) -> bool:
        self.failures += 1
        if self.failures >= self.x.download_attempts:
            raise BulkExportError("bulk-download", f"export {self.export_id}: giving up after {self.failures} tries ({why})",
                                  self.export_id)
        self.x._sleep(min(60.0, 2.0 ** self.failures))
        return False

    def _restart(self, why: str) -> None:
        self.restarts += 1
        if self.restarts > self.x.restarts:
            raise BulkExportError("bulk-checksum", f"export {self.export_id}: {why}, {self.restarts} times", self.export_id)
        self.sink.seek(0)
        self.sink.truncate()
        self.hasher, self.have = hashlib.sha256(), 0

    def _await_file(self) -> None:
        """The status says Completed but the file 404s (a known Marketo hiccup, and what an
        expired file looks like): probe with ``Range: bytes=0-0`` a few times, then give up."""
        for _ in range(self.x.missing_file_probes):
            self.x._sleep(self.x.missing_file_wait)
            try:
                with self.x.get_file(self.export_id, "bytes=0-0") as probe:
                    if probe.status_code in (200, 206):
                        return
            except (requests.ConnectionError, requests.Timeout, _Retryable):
                continue
        raise BulkExportGone("bulk-file-missing", f"the file of export {self.export_id} is not there", self.export_id)


def _sha256(checksum: str | None) -> str | None:
    """The hex digest in ``"sha256:<hex>"``; None when absent or of another algorithm."""
    if not checksum:
        return None
    algorithm, _, digest = str(checksum).partition(":")
    return digest.lower() if algorithm.lower() == "sha256" and digest else None


def _total(response: requests.Response, have: int) -> int | None:
    """The full file size from ``Content-Range`` (".../<total>") or a 200's ``Content-Length``."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return int(length) + have if length and length.isdigit() and response.status_code == 200 else None
