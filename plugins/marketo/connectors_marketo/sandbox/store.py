"""The sandbox's lead database: field schema, leads, static lists and memberships.

Not thread-safe on its own: the sandbox serialises access with its lock.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable


@dataclass(frozen=True)
class FieldDef:
    id: int
    name: str
    display_name: str
    data_type: str
    length: int | None = None
    read_only: bool = False
    searchable: bool = False

    def describe(self) -> dict[str, Any]:
        """The ``leads/describe.json`` shape."""
        record: dict[str, Any] = {"id": self.id, "displayName": self.display_name, "dataType": self.data_type}
        if self.length is not None:
            record["length"] = self.length
        record["rest"] = {"name": self.name, "readOnly": self.read_only}
        record["soap"] = {"name": self.name[:1].upper() + self.name[1:], "readOnly": self.read_only}
        return record

    def describe2(self) -> dict[str, Any]:
        record = {"name": self.name, "displayName": self.display_name, "dataType": self.data_type,
                  "updateable": not self.read_only, "crmManaged": False}
        if self.length is not None:
            record["length"] = self.length
        return record


STANDARD_FIELDS = (
    FieldDef(1, "id", "Id", "integer", read_only=True, searchable=True),
    FieldDef(2, "email", "Email Address", "email", 255, searchable=True),
    FieldDef(3, "firstName", "First Name", "string", 255),
    FieldDef(4, "lastName", "Last Name", "string", 255),
    FieldDef(5, "company", "Company Name", "string", 255),
    FieldDef(6, "title", "Job Title", "string", 255),
    FieldDef(7, "phone", "Phone Number", "phone", 255),
    FieldDef(8, "city", "City", "string", 255),
    FieldDef(9, "state", "State", "string", 255),
    FieldDef(10, "postalCode", "Postal Code", "string", 255),
    FieldDef(11, "country", "Country", "string", 255),
    FieldDef(12, "createdAt", "Created At", "datetime", read_only=True),
    FieldDef(13, "updatedAt", "Updated At", "datetime", read_only=True),
    FieldDef(1001, "certainAttendeeId", "Certain Attendee Id", "string", 255, searchable=True),
)
#: what Marketo returns when a call names no ``fields``
DEFAULT_FIELDS = ("id", "email", "updatedAt", "createdAt", "firstName", "lastName")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class LeadStore:
    def __init__(self) -> None:
        self.fields: dict[str, FieldDef] = {f.name: f for f in STANDARD_FIELDS}
        self.leads: dict[int, dict[str, Any]] = {}
        self.lists: dict[int, dict[str, Any]] = {}
        self.members: dict[int, set[int]] = {}
        self._next_lead_id = 1
        self._next_list_id = 1001

    # -- schema
    def add_field(self, name: str, display_name: str, data_type: str = "string", *, length: int | None = 255,
                  read_only: bool = False, searchable: bool = False) -> FieldDef:
        field = FieldDef(max(f.id for f in self.fields.values()) + 1, name, display_name, data_type, length,
                         read_only, searchable)
        self.fields[name] = field
        return field

    def unknown_fields(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self.fields]

    # -- leads
    def add_lead(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = self.unknown_fields(k for k in values if k != "id")
        if unknown:
            raise ValueError(f"unknown lead fields: {unknown}")
        lead_id = int(values.get("id") or self._next_lead_id)
        if lead_id in self.leads:
            raise ValueError(f"lead {lead_id} exists")
        self._next_lead_id = max(self._next_lead_id, lead_id + 1)
        stamp = now_iso()
        lead = {"createdAt": stamp, "updatedAt": stamp, **values, "id": lead_id}
        self.leads[lead_id] = lead
        return lead

    def find_leads(self, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Leads whose ``field`` equals one of ``values`` (emails compare case-insensitively)."""
        if field == "id":
            wanted_ids = {int(v) for v in values if str(v).strip().isdigit()}
            return [self.leads[i] for i in sorted(wanted_ids) if i in self.leads]
        fold = str.lower if self.fields[field].data_type == "email" else str
        wanted = {fold(str(v)) for v in values}
        return [lead for lead in self.leads.values() if lead.get(field) is not None and fold(str(lead[field])) in wanted]

    @staticmethod
    def project(lead: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
        """The lead as the API returns it: ``id`` plus the requested fields that have a value
        (Marketo leaves null fields out; absent means null)."""
        record = {"id": lead["id"]}
        for name in fields:
            if lead.get(name) is not None:
                record[name] = lead[name]
        return record

    # -- static lists
    def add_list(self, name: str, *, description: str = "", program_name: str = "SUMMIT26 Program",
                 workspace_name: str = "Default") -> dict[str, Any]:
        stamp = now_iso()
        record = {"id": self._next_list_id, "name": name, "description": description, "programName": program_name,
                  "workspaceName": workspace_name, "createdAt": stamp, "updatedAt": stamp}
        self.lists[record["id"]] = record
        self.members[record["id"]] = set()
        self._next_list_id += 1
        return record

    def add_members(self, list_id: int, lead_ids: Iterable[int]) -> None:
        ids = [int(i) for i in lead_ids]
        missing = [i for i in ids if i not in self.leads]
        if missing:
            raise ValueError(f"no such leads: {missing[:10]}")
        self.members[list_id].update(ids)

    def find_lists(self, ids: set[int] | None = None, names: set[str] | None = None,
                   program_names: set[str] | None = None, workspace_names: set[str] | None = None) -> list[dict[str, Any]]:
        found = []
        for record in sorted(self.lists.values(), key=lambda r: r["id"]):
            if ids is not None and record["id"] not in ids:
                continue
            if names is not None and record["name"] not in names:
                continue
            if program_names is not None and record["programName"] not in program_names:
                continue
            if workspace_names is not None and record["workspaceName"] not in workspace_names:
                continue
            found.append(record)
        return found

    def member_leads(self, list_id: int) -> list[dict[str, Any]]:
        return [self.leads[i] for i in sorted(self.members.get(list_id, ()))]


# -- paging ------------------------------------------------------------------------------------
class BadPageToken(ValueError):
    pass


def page_after(rows: list[dict[str, Any]], after_id: int | None, size: int) -> tuple[list[dict[str, Any]], int | None]:
    """Rows (sorted by id) after ``after_id``: one page, and the last id when more remain.

    Paging by "after this id" rather than by offset keeps every row exactly once even when rows
    are added between pages."""
    rest = [r for r in rows if after_id is None or r["id"] > after_id]
    page = rest[:size]
    return page, (page[-1]["id"] if len(rest) > size else None)


def encode_page_token(scope: str, after_id: int) -> str:
    """An opaque, Marketo-looking (base32) token bound to what is being paged."""
    raw = json.dumps({"s": scope, "a": after_id}, separators=(",", ":")).encode()
    return base64.b32encode(raw).decode()


def decode_page_token(token: str | None, scope: str) -> int | None:
    if not token:
        return None
    try:
        data = json.loads(base64.b32decode(token.encode()))
        if data["s"] != scope:
            raise ValueError("token of another query")
        return int(data["a"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadPageToken(str(exc)) from exc
