"""How a sync behaves (spec §7.3, §7.4): how long it stays ``pending`` and ``active`` (in status
polls and in seconds on the sandbox clock), whether it gets stuck, ends ``error`` with an ELQ
code, logs an automatic retry (ELQ-00145), rejects chosen rows, serves an empty page with
``hasMore`` once, or caps an activity export. ``BulkFaults`` hands a script to each new sync:
the next scripted one, else the default timing."""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace


@dataclass
class SyncScript:
    pending_polls: float = 1
    active_polls: float = 1
    pending_seconds: float = 0.0
    active_seconds: float = 0.0
    end_with: tuple[str, str] | None = None          # (ELQ code, message): the sync ends ``error``
    retry_log: bool = False                          # log ELQ-00145 while active
    rejects: dict[int, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)  # recordIndex -> reject
    empty_pages: int = 0                             # data requests answered empty with hasMore
    export_cap: int | None = None                    # most rows an activity export returns


class BulkFaults:
    def __init__(self, timing: SyncScript | None = None):
        self.timing = timing or SyncScript()
        self._next: deque[SyncScript] = deque()

    def script_for_next_sync(self) -> SyncScript:
        return self._next.popleft() if self._next else replace(self.timing, rejects=dict(self.timing.rejects))

    def next_sync(self, **changes) -> SyncScript:
        """The next sync created follows these changes to the default timing (queued in order)."""
        script = replace(self.timing, **changes)
        self._next.append(script)
        return script

    def slow(self, pending_polls: float = 3, active_polls: float = 3, pending_seconds: float = 0,
             active_seconds: float = 0) -> SyncScript:
        return self.next_sync(pending_polls=pending_polls, active_polls=active_polls,
                              pending_seconds=pending_seconds, active_seconds=active_seconds)

    def stuck(self, state: str = "active") -> SyncScript:
        """The next sync never finishes (stays ``pending`` or ``active``)."""
        return self.next_sync(**({"pending_polls": math.inf} if state == "pending" else {"active_polls": math.inf}))

    def error(self, code: str = "ELQ-00122", message: str = "Definition validation error; the sync will not proceed."
              ) -> SyncScript:
        return self.next_sync(end_with=(code, message))

    def temporary_failure(self) -> SyncScript:
        return self.error("ELQ-00146", "Temporary failure; retry the sync in an hour.")

    def retried(self) -> SyncScript:
        return self.next_sync(retry_log=True)

    def reject_rows(self, rows: dict[int, str | tuple[str, str] | tuple[str, str, tuple[str, ...]]]) -> SyncScript:
        """The next sync rejects these 1-based record indexes (with an ELQ code and message)."""
        rejects = {}
        for index, spec in rows.items():
            spec = (spec,) if isinstance(spec, str) else tuple(spec)
            code = spec[0]
            message = spec[1] if len(spec) > 1 else "Record rejected."
            fields = tuple(spec[2]) if len(spec) > 2 else ()
            rejects[int(index)] = (code, message, fields)
        return self.next_sync(rejects=rejects)

    def empty_page_once(self) -> SyncScript:
        return self.next_sync(empty_pages=1)

    def cap_export(self, rows: int) -> SyncScript:
        return self.next_sync(export_cap=rows)

    def clear(self) -> None:
        self._next.clear()
