"""Sync Leads (``POST /rest/v1/leads.json``, spec §2.2): the rules, record by record.

Records are processed in input order and answered in the same order. ``pause`` models what
makes concurrent upserts dangerous in the real Marketo: the lookup of every record happens
first, then (while another request may run) the writes; two requests creating the same new
key both create it, and the database then holds duplicates (the cause of later 1007s).
"""
from __future__ import annotations

from typing import Any, Callable

from .envelope import ApiError, skipped
from .store import LeadStore, now_iso

ACTIONS = ("createOnly", "updateOnly", "createOrUpdate", "createDuplicate")
MAX_INPUT = 300
DEFAULT_PARTITION = "Default"
_TYPES = {"integer": (int,), "float": (int, float), "currency": (int, float), "boolean": (bool,)}


class LeadSync:
    def __init__(self, store: LeadStore, partitions: dict[int, str], known_partitions: set[str]):
        self.store = store
        self.partitions = partitions  # lead id -> partition name
        self.known_partitions = known_partitions

    def run(self, body: Any, pause: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        action, lookup, partition, records = self._request(body)
        problems = [self._problem(action, lookup, r) for r in records]
        early = {i: self._matches(lookup, partition, r) for i, r in enumerate(records) if problems[i] is None}
        if pause is not None:
            pause()
        results, created_here = [], {}
        for i, record in enumerate(records):
            if problems[i] is not None:
                results.append(problems[i])
                continue
            key = lookup_key(lookup, record)
            if pause is None:
                matches = self._matches(lookup, partition, record)
            else:  # decided on the lookup made before the pause, blind to other requests' writes
                matches = early[i] + ([created_here[key]] if key in created_here else [])
            result = self._apply(action, partition or DEFAULT_PARTITION, record, matches)
            if result.get("status") == "created":
                created_here.setdefault(key, result["id"])
            results.append(result)
        return results

    # -- the request as a whole (response-level errors) -----------------------------------------
    def _request(self, body: Any) -> tuple[str, str, str | None, list[Any]]:
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        action = body.get("action") or "createOrUpdate"
        if action not in ACTIONS:
            raise ApiError("1003", f"Invalid action '{action}'")
        records = body.get("input")
        if not isinstance(records, list) or not records:
            raise ApiError("1003", "Input is required")
        if len(records) > MAX_INPUT:
            raise ApiError("1003", f"Batch size {len(records)} exceeds the limit of {MAX_INPUT}")
        lookup = body.get("lookupField") or "email"
        field = self.store.fields.get(lookup)
        if field is None:
            raise ApiError("1006", f"Field '{lookup}' not found")
        if not field.searchable:
            raise ApiError("1011", f"Field '{lookup}' not supported as lookup field")
        if lookup == "id" and action != "updateOnly":
            raise ApiError("1003", "Lookup field 'id' is only allowed with action updateOnly")
        partition = body.get("partitionName")
        if partition is not None:
            if action not in ("createOnly", "createOrUpdate"):
                raise ApiError("1003", "partitionName is only allowed with createOnly or createOrUpdate")
            if partition not in self.known_partitions:
                raise ApiError("1003", f"Partition '{partition}' not found")
        return action, lookup, partition, records

    # -- one record ------------------------------------------------------------------------------
    def _problem(self, action: str, lookup: str, record: Any) -> dict[str, Any] | None:
        """The skipped result for a record that cannot be processed at all, else None."""
        if not isinstance(record, dict):
            return skipped("1003", "Invalid record")
        for name, value in record.items():
            field = self.store.fields.get(name)
            if field is None:
                return skipped("1006", f"Field '{name}' not found")
            if field.read_only and not (name == "id" and lookup == "id"):
                return skipped("1003", f"Field '{name}' is read only")
            if value is None:
                continue
            if field.data_type in _TYPES and (not isinstance(value, _TYPES[field.data_type])
                                              or (field.data_type != "boolean" and isinstance(value, bool))):
                return skipped("1001", f"Invalid value type for field '{name}'")
            if isinstance(value, str) and field.length is not None and len(value) > field.length:
                return skipped("1003", f"Value for field '{name}' exceeds {field.length} characters")
            if field.data_type == "email" and not _valid_email(value):
                return skipped("1003", f"Invalid email address '{value}'")
        if action != "createDuplicate" and record.get(lookup) in (None, ""):
            return skipped("1003", f"Value for lookup field '{lookup}' not specified")
        return None

    def _matches(self, lookup: str, partition: str | None, record: dict[str, Any]) -> list[int]:
        value = record.get(lookup)
        if value in (None, ""):
            return []
        found = self.store.find_leads(lookup, [str(value)])
        return [lead["id"] for lead in found
                if partition is None or self.partitions.get(lead["id"], DEFAULT_PARTITION) == partition]

    def _apply(self, action: str, partition: str, record: dict[str, Any], matches: list[int]) -> dict[str, Any]:
        if action == "createDuplicate" or (not matches and action in ("createOnly", "createOrUpdate")):
            return self._create(partition, record)
        if action == "createOnly":
            return skipped("1005")
        if not matches:
            return skipped("1004")
        if len(matches) > 1:
            return skipped("1007")
        return self._update(matches[0], record)

    def _create(self, partition: str, record: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in record.items() if k != "id" and v is not None}
        lead = self.store.add_lead(values)
        self.partitions[lead["id"]] = partition
        return {"id": lead["id"], "status": "created"}

    def _update(self, lead_id: int, record: dict[str, Any]) -> dict[str, Any]:
        lead = self.store.leads[lead_id]
        for name, value in record.items():
            if name == "id":
                continue
            if value is None:
                lead.pop(name, None)
            else:
                lead[name] = value
        lead["updatedAt"] = now_iso()
        return {"id": lead_id, "status": "updated"}


def lookup_key(lookup: str, record: dict[str, Any]) -> str:
    value = str(record.get(lookup) or "")
    return value.lower() if lookup == "email" else value


def _valid_email(value: Any) -> bool:
    """Marketo wants ASCII e-mail addresses; a minimal shape check."""
    if not isinstance(value, str) or not value.isascii():
        return False
    local, at, domain = value.partition("@")
    return bool(local and at and "." in domain and " " not in value)
