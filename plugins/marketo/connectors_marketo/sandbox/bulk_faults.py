"""Scripted faults of the sandbox's Bulk Lead Extract (spec §7 "Bulk"): per export, stay
Queued/Processing for some polls, end Failed, a Completed file that 404s, a file served
truncated, corrupted or over a dropped connection, dirty CSV; for enqueues, 1029 queue full or
daily quota spent; for create, 1035 unsupported filters. Tests reach them as
``sandbox.bulk.faults``."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from .bulk import BulkExports


@dataclass
class DirtyCsv:
    """What real export files carry (spec §5.5 #8): NUL bytes and stray carriage returns inside
    values, CRLF line ends, rows with one column too many. Every ``every``-th row is soiled so
    that dropping NUL and CR gives the clean values back."""

    every: int = 3
    crlf: bool = True
    misaligned_rows: frozenset[int] = frozenset()

    def soil(self, values: list[str], row: int) -> list[str]:
        if row % self.every:
            return values
        return [v if v == "null" else f"{v[:1]}\0{v[1:]}\r" for v in values]


@dataclass
class JobFaults:
    hold_queued: float = 0       # status polls that still see Queued
    hold_processing: float = 0   # status polls that still see Processing
    fail_with: str | None = None  # errorMsg: the job ends Failed
    file_missing: int = 0        # file requests answered 404 although Completed
    truncate: int = 0            # file answers cut to half of what was asked
    corrupt: int = 0             # file answers with one byte changed
    drop: int = 0                # file requests whose connection is dropped
    dirty: DirtyCsv | None = None


class BulkFaults:
    """Scripted bulk faults. Each job fault applies to the export with ``export_id``, or to the
    next export created when none is given."""

    def __init__(self, exports: "BulkExports"):
        self._exports = exports
        self._next = JobFaults()
        self._refusals: deque[str] = deque()
        self.unsupported: set[str] = set()

    def _target(self, export_id: str | None) -> JobFaults:
        return self._next if export_id is None else self._exports.jobs[export_id].faults

    def stay_queued(self, polls: float = float("inf"), export_id: str | None = None) -> None:
        self._target(export_id).hold_queued = polls

    def stay_processing(self, polls: float = float("inf"), export_id: str | None = None) -> None:
        self._target(export_id).hold_processing = polls

    def fail(self, error_msg: str = "Export failed: internal error", export_id: str | None = None) -> None:
        self._target(export_id).fail_with = error_msg

    def file_missing(self, requests: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).file_missing = requests

    def truncate_file(self, times: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).truncate = times

    def corrupt_file(self, times: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).corrupt = times

    def drop_file_connection(self, times: int = 1, export_id: str | None = None) -> None:
        self._target(export_id).drop = times

    def dirty_csv(self, every: int = 3, crlf: bool = True, misaligned_rows: Iterable[int] = (),
                  export_id: str | None = None) -> None:
        self._target(export_id).dirty = DirtyCsv(every, crlf, frozenset(misaligned_rows))

    def queue_full(self, times: int = 1) -> None:
        """The next ``times`` enqueues get 1029 "Too many jobs in queue"."""
        self._refusals.extend(["queue"] * times)

    def quota_exceeded(self, times: int = 1) -> None:
        """The next ``times`` enqueues get 1029 "Export daily quota …MB exceeded"."""
        self._refusals.extend(["quota"] * times)

    def unsupported_filters(self, *names: str) -> None:
        """These filters answer 1035 (default: updatedAt and the smart-list ones)."""
        self.unsupported = set(names or ("updatedAt", "smartListId", "smartListName"))

    def take_next(self) -> JobFaults:
        taken, self._next = self._next, JobFaults()
        return taken

    def take_refusal(self) -> str | None:
        return self._refusals.popleft() if self._refusals else None

    def clear(self) -> None:
        self._next, self.unsupported = JobFaults(), set()
        self._refusals.clear()
