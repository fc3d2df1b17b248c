"""Custom objects (CDOs, spec §2.5): definitions with numbered fields and their records, which
may be linked to a contact. REST addresses field values by field id; Bulk by the statement
``{{CustomObject[pid].Field[fid]}}``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class CdoField:
    id: int
    name: str
    internal_name: str
    data_type: str = "text"  # text | date | numeric | largeText

    def rest(self) -> dict[str, Any]:
        return {"type": "CustomObjectField", "id": str(self.id), "name": self.name, "dataType": self.data_type,
                "displayType": "text", "internalName": self.internal_name}

    def bulk(self, parent_id: int) -> dict[str, Any]:
        return {"name": self.name, "internalName": self.internal_name,
                "dataType": {"text": "string", "numeric": "number"}.get(self.data_type, self.data_type),
                "hasReadOnlyConstraint": False, "hasNotNullConstraint": False, "hasUniquenessConstraint": False,
                "statement": "{{CustomObject[%d].Field[%d]}}" % (parent_id, self.id),
                "uri": f"/customObjects/{parent_id}/fields/{self.id}"}


@dataclass
class CdoRecord:
    id: int
    values: dict[int, str] = field(default_factory=dict)  # field id -> value
    contact_id: int | None = None
    unique_code: str = ""
    name: str = ""
    created_at: int = 0
    updated_at: int = 0


@dataclass
class CustomObject:
    id: int
    name: str
    fields: list[CdoField]
    unique_field_id: int | None = None
    email_field_id: int | None = None
    display_name_field_id: int | None = None
    description: str = ""
    records: dict[int, CdoRecord] = field(default_factory=dict)
    created_at: int = 0

    def field(self, key: int | str) -> CdoField | None:
        """A field by id, internal name or name."""
        text = str(key)
        return next((f for f in self.fields if text in (str(f.id), f.internal_name, f.name)), None)

    def rest(self, depth: str = "complete") -> dict[str, Any]:
        record: dict[str, Any] = {"type": "CustomObject", "id": str(self.id), "name": self.name, "depth": depth,
                                  "createdAt": str(self.created_at), "updatedAt": str(self.created_at)}
        if depth != "minimal":
            record.update(description=self.description, fields=[f.rest() for f in self.fields],
                          deleteLinkedCustomObjectData="false", recordCount=str(len(self.records)))
            for key, value in (("uniqueCodeFieldId", self.unique_field_id), ("emailAddressFieldId", self.email_field_id),
                               ("displayNameFieldId", self.display_name_field_id)):
                if value is not None:
                    record[key] = str(value)
        return record

    def bulk(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "uri": f"/customObjects/{self.id}", "description": self.description}
        for key, value in (("uniqueFieldUri", self.unique_field_id), ("emailAddressFieldUri", self.email_field_id),
                           ("displayNameFieldUri", self.display_name_field_id)):
            if value is not None:
                out[key] = f"/customObjects/{self.id}/fields/{value}"
        return out

    def rest_record(self, record: CdoRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "CustomObjectData", "id": str(record.id), "createdAt": str(record.created_at),
                               "updatedAt": str(record.updated_at), "uniqueCode": record.unique_code,
                               "name": record.name,
                               "fieldValues": [{"type": "FieldValue", "id": str(fid), "value": value}
                                               for fid, value in sorted(record.values.items())]}
        if record.contact_id is not None:
            out["contactId"] = str(record.contact_id)
        return out

    def derived(self, record: CdoRecord) -> None:
        """uniqueCode and name follow the unique and display-name fields."""
        if self.unique_field_id is not None:
            record.unique_code = record.values.get(self.unique_field_id, record.unique_code)
        if self.display_name_field_id is not None:
            record.name = record.values.get(self.display_name_field_id, record.name)

    def find(self, field_id: int, value: str, case_sensitive: bool = False) -> list[CdoRecord]:
        if case_sensitive:
            return [r for r in self.records.values() if r.values.get(field_id) == value]
        return [r for r in self.records.values() if r.values.get(field_id, "").lower() == value.lower()]


class CustomObjectStore:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.objects: dict[int, CustomObject] = {}
        self._next_object, self._next_field, self._next_record = 9, 40, 1

    def create(self, name: str, fields: Iterable[tuple[str, str, str]], *, unique: str | None = None,
               email: str | None = None, display_name: str | None = None, description: str = "") -> CustomObject:
        """``fields`` are (name, internal name, data type); the keyword ones name an internal name."""
        made = []
        for field_name, internal, data_type in fields:
            made.append(CdoField(self._next_field, field_name, internal, data_type))
            self._next_field += 1
        cdo = CustomObject(self._next_object, name, made, description=description, created_at=int(self.clock()))
        self._next_object += 1
        for attr, key in (("unique_field_id", unique), ("email_field_id", email),
                          ("display_name_field_id", display_name)):
            if key is not None:
                setattr(cdo, attr, cdo.field(key).id)
        self.objects[cdo.id] = cdo
        return cdo

    def by_name(self, name: str) -> CustomObject | None:
        return next((o for o in self.objects.values() if o.name.lower() == name.lower()), None)

    def add_record(self, cdo: CustomObject, values: dict[int, str], contact_id: int | None = None) -> CdoRecord:
        now = int(self.clock())
        record = CdoRecord(self._next_record, {k: v for k, v in values.items() if v not in (None, "")},
                           contact_id, created_at=now, updated_at=now)
        self._next_record += 1
        cdo.derived(record)
        cdo.records[record.id] = record
        return record

    def update_record(self, cdo: CustomObject, record: CdoRecord, values: dict[int, str]) -> None:
        for key, value in values.items():
            if value in (None, ""):
                record.values.pop(key, None)
            else:
                record.values[key] = str(value)
        record.updated_at = int(self.clock())
        cdo.derived(record)
