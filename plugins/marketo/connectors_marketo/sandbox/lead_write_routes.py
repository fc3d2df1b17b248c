"""``POST /rest/v1/leads.json`` (Sync Leads), with a log of every write for duplicate checks."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response

from .envelope import ApiError
from .lead_sync import LeadSync, lookup_key

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox


@dataclass(frozen=True)
class LeadWrite:
    """One Sync Leads request: when it arrived and finished (sandbox monotonic seconds), its
    action and lookup field, and the lookup keys it carried."""

    arrived: float
    finished: float
    action: str
    lookup_field: str
    keys: tuple[str, ...]

    def overlaps(self, other: "LeadWrite") -> bool:
        return self.arrived < other.finished and other.arrived < self.finished


def json_body(request: Request) -> Any:
    """The JSON body, or the envelope errors Marketo gives: 612 wrong content type, 609 bad JSON."""
    if request.content_type != "application/json":
        raise ApiError("612", f"Invalid Content Type '{request.content_type or 'none'}'")
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError("609", "Invalid JSON") from None


def register(sandbox: "MarketoSandbox") -> None:
    def sync_leads(request: Request) -> Response:
        body = json_body(request)
        sync = LeadSync(sandbox.store, sandbox.lead_partitions, sandbox.partitions)
        window = sandbox.upsert_race_window
        results = sync.run(body, pause=(lambda: sandbox.unlocked_sleep(window)) if window else None)
        lookup = body.get("lookupField") or "email"
        keys = tuple(lookup_key(lookup, r) for r in body["input"] if isinstance(r, dict))
        sandbox.lead_writes.append(LeadWrite(sandbox.arrived_at(), time.monotonic(),
                                             body.get("action") or "createOrUpdate", lookup, keys))
        return sandbox.ok(results)

    sandbox.routes.add("POST", r"/rest/v1/leads\.json", sync_leads)
