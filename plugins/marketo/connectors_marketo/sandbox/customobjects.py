"""Custom objects (spec §2.5): types with dedupe fields and a link to the lead, and their records.

The two types Certain's metric jobs write are deployed by default: ``certainEngagement_c``
(one record per attendee and event) and ``certainInterest_c`` (one per attendee, event and tag),
both linked to the lead through the lead field ``certainAttendeeId``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from .envelope import ApiError, skipped
from .store import now_iso

ACTIONS = ("createOnly", "updateOnly", "createOrUpdate")
MAX_INPUT = 300
SYSTEM_FIELDS = ("marketoGUID", "createdAt", "updatedAt")
_TYPES = {"integer": (int,), "float": (int, float), "boolean": (bool,)}


@dataclass(frozen=True)
class ObjectField:
    name: str
    display_name: str
    data_type: str = "string"
    length: int | None = None

    def describe(self, updateable: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "displayName": self.display_name, "dataType": self.data_type,
                                  "updateable": updateable}
        if self.length is not None:
            record["length"] = self.length
        return record


@dataclass(frozen=True)
class ObjectType:
    name: str
    display_name: str
    description: str
    dedupe_fields: tuple[str, ...]
    link_field: str  # the field on the object holding the lead's value
    lead_field: str  # the lead field it points at
    fields: tuple[ObjectField, ...]
    created_at: str

    @property
    def field_names(self) -> set[str]:
        return {f.name for f in self.fields}

    def searchable(self) -> list[list[str]]:
        found = [list(self.dedupe_fields), ["marketoGUID"]]
        if [self.link_field] not in found:
            found.append([self.link_field])
        return found

    def metadata(self) -> dict[str, Any]:
        """The ``customobjects.json`` record."""
        return {"name": self.name, "displayName": self.display_name, "description": self.description,
                "createdAt": self.created_at, "updatedAt": self.created_at, "idField": "marketoGUID",
                "dedupeFields": list(self.dedupe_fields), "searchableFields": self.searchable(),
                "relationships": [{"field": self.link_field, "type": "parent",
                                   "relatedTo": {"name": "Lead", "field": self.lead_field}}]}

    def describe(self) -> dict[str, Any]:
        system = [ObjectField("createdAt", "Created At", "datetime"), ObjectField("marketoGUID", "Marketo GUID", "string", 36),
                  ObjectField("updatedAt", "Updated At", "datetime")]
        fields = [f.describe(updateable=False) for f in system] + [f.describe() for f in self.fields]
        return {**self.metadata(), "fields": fields}


def _field(name: str, label: str, data_type: str = "string") -> ObjectField:
    return ObjectField(name, label, data_type, 255 if data_type == "string" else None)


DEFAULT_TYPES = (
    ObjectType("certainEngagement_c", "Certain Engagement", "Event engagement metrics uploaded by Certain",
               ("attendeeId", "eventCode"), "attendeeId", "certainAttendeeId", (
                   _field("attendeeId", "Attendee Id"), _field("eventCode", "Event Code"),
                   _field("registrationStatus", "Registration Status"),
                   _field("sessionsRegistered", "Sessions Registered", "integer"),
                   _field("sessionsAttended", "Sessions Attended", "integer"),
                   _field("sessionsNoShow", "Sessions No-show", "integer"),
                   _field("sessionsWaitlisted", "Sessions Waitlisted", "integer"),
                   _field("agendaItemsRegistered", "Agenda Items Registered", "integer"),
                   _field("attendedEvent", "Attended Event", "boolean")), "2025-01-06T08:00:00Z"),
    ObjectType("certainInterest_c", "Certain Interest", "Interest scores per tag uploaded by Certain",
               ("attendeeId", "eventCode", "tag"), "attendeeId", "certainAttendeeId", (
                   _field("attendeeId", "Attendee Id"), _field("eventCode", "Event Code"), _field("tag", "Tag"),
                   _field("score", "Interest Score", "integer"), _field("items", "Qualifying Items", "integer")),
               "2025-01-06T08:00:00Z"),
)


class CustomObjectStore:
    """Not thread-safe on its own: the sandbox serialises access with its lock."""

    def __init__(self, has_lead: Callable[[str, str], bool]):
        self.has_lead = has_lead  # (lead field, value) -> does some lead carry it?
        self.types: dict[str, ObjectType] = {t.name: t for t in DEFAULT_TYPES}
        self.records: dict[str, list[dict[str, Any]]] = {t.name: [] for t in DEFAULT_TYPES}

    def add_type(self, object_type: ObjectType) -> None:
        self.types[object_type.name] = object_type
        self.records.setdefault(object_type.name, [])

    def type(self, name: str) -> ObjectType:
        found = self.types.get(name)
        if found is None:
            raise ApiError("1013", f"Custom object '{name}' not found")
        return found

    # -- upsert ------------------------------------------------------------------------------------
    def sync(self, name: str, body: Any) -> list[dict[str, Any]]:
        kind = self.type(name)
        if not isinstance(body, dict):
            raise ApiError("609", "Invalid JSON")
        action = body.get("action") or "createOrUpdate"
        dedupe_by = body.get("dedupeBy") or "dedupeFields"
        records = body.get("input")
        if action not in ACTIONS:
            raise ApiError("1003", f"Invalid action '{action}'")
        if dedupe_by not in ("dedupeFields", "idField"):
            raise ApiError("1003", f"Invalid dedupeBy '{dedupe_by}'")
        if not isinstance(records, list) or not records:
            raise ApiError("1003", "Input is required")
        if len(records) > MAX_INPUT:
            raise ApiError("1003", f"Batch size {len(records)} exceeds the limit of {MAX_INPUT}")
        return [self._one(kind, seq, action, dedupe_by, record) for seq, record in enumerate(records)]

    def _one(self, kind: ObjectType, seq: int, action: str, dedupe_by: str, record: Any) -> dict[str, Any]:
        problem = self._problem(kind, dedupe_by, record)
        if problem:
            return skipped(*problem, seq=seq)
        existing = self._find(kind, dedupe_by, record)
        if existing is None and (action == "updateOnly" or dedupe_by == "idField"):
            return skipped("1013", "Record not found", seq=seq)
        if existing is not None and action == "createOnly":
            return skipped("1017", "Record already exists", seq=seq)
        link = record.get(kind.link_field)
        if (existing is None or kind.link_field in record) and not (link and self.has_lead(kind.lead_field, str(link))):
            return skipped("1004", f"No lead with {kind.lead_field} '{link}'", seq=seq)
        stamp = now_iso()
        values = {k: v for k, v in record.items() if k != "marketoGUID"}
        if existing is None:
            created = {"marketoGUID": str(uuid.uuid4()), **values, "createdAt": stamp, "updatedAt": stamp}
            self.records[kind.name].append(created)
            return {"seq": seq, "marketoGUID": created["marketoGUID"], "status": "created"}
        existing.update(values)
        existing["updatedAt"] = stamp
        return {"seq": seq, "marketoGUID": existing["marketoGUID"], "status": "updated"}

    def _problem(self, kind: ObjectType, dedupe_by: str, record: Any) -> tuple[str, str] | None:
        if not isinstance(record, dict):
            return "1003", "Invalid record"
        fields = {f.name: f for f in kind.fields}
        for name, value in record.items():
            if name == "marketoGUID" and dedupe_by == "idField":
                continue
            if name in SYSTEM_FIELDS:
                return "1003", f"Field '{name}' is read only"
            field = fields.get(name)
            if field is None:
                return "1006", f"Field '{name}' not found"
            if value is not None and field.data_type in _TYPES and (
                    not isinstance(value, _TYPES[field.data_type])
                    or (field.data_type != "boolean" and isinstance(value, bool))):
                return "1001", f"Invalid value type for field '{name}'"
        keys = ("marketoGUID",) if dedupe_by == "idField" else kind.dedupe_fields
        missing = [k for k in keys if record.get(k) in (None, "")]
        if missing:
            return "1003", f"Value for required field '{missing[0]}' not specified"
        return None

    def _find(self, kind: ObjectType, dedupe_by: str, record: dict[str, Any]) -> dict[str, Any] | None:
        keys = ("marketoGUID",) if dedupe_by == "idField" else kind.dedupe_fields
        wanted = tuple(str(record[k]) for k in keys)
        for row in self.records[kind.name]:
            if tuple(str(row.get(k)) for k in keys) == wanted:
                return row
        return None

    # -- query ---------------------------------------------------------------------------------------
    def query(self, name: str, filter_type: str, values: list[str]) -> list[dict[str, Any]]:
        kind = self.type(name)
        if [filter_type] not in kind.searchable():
            raise ApiError("1003", f"Invalid filterType '{filter_type}'")
        wanted = set(values)
        return [row for row in self.records[kind.name] if str(row.get(filter_type)) in wanted]

    @staticmethod
    def project(kind: ObjectType, seq: int, row: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        names = fields if fields else [*kind.dedupe_fields, "createdAt", "updatedAt"]
        record: dict[str, Any] = {"seq": seq, "marketoGUID": row["marketoGUID"]}
        for name in names:
            if row.get(name) is not None:
                record[name] = row[name]
        return record
