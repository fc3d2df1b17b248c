"""Shared contact lists (spec §2.4): named sets of contact ids, shown by REST with a read-only
``count`` and by Bulk with the statement ``{{ContactList[id]}}`` that filters and sync actions use."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass
class ContactList:
    id: int
    name: str
    members: set[int] = field(default_factory=set)
    description: str = ""
    folder_id: int = 12
    scope: str = "global"
    data_lookup_id: str = ""
    created_at: int = 0
    updated_at: int = 0

    def __post_init__(self) -> None:
        if not self.data_lookup_id:  # stable, so seeded lists look the same on every run
            self.data_lookup_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"eloqua-sandbox:list:{self.id}"))

    @property
    def statement(self) -> str:
        return "{{ContactList[%d]}}" % self.id

    def rest(self, depth: str = "complete") -> dict[str, Any]:
        record: dict[str, Any] = {"type": "ContactList", "id": str(self.id), "name": self.name, "depth": depth,
                                  "createdAt": str(self.created_at), "updatedAt": str(self.updated_at)}
        if depth != "minimal":
            record.update(count=str(len(self.members)), dataLookupId=self.data_lookup_id, scope=self.scope,
                          folderId=str(self.folder_id), description=self.description)
        return record

    def bulk(self) -> dict[str, Any]:
        return {"name": self.name, "count": len(self.members), "dataLookupId": self.data_lookup_id,
                "statement": self.statement, "uri": f"/contacts/lists/{self.id}"}


class ListStore:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.lists: dict[int, ContactList] = {}
        self._next_id = 101

    def create(self, name: str, members: Iterable[int] = (), **details: Any) -> ContactList:
        now = int(self.clock())
        record = ContactList(self._next_id, name, set(members), created_at=now, updated_at=now, **details)
        self._next_id += 1
        self.lists[record.id] = record
        return record

    def by_name(self, name: str) -> ContactList | None:
        return next((r for r in self.lists.values() if r.name.lower() == name.lower()), None)

    def add(self, list_id: int, contact_ids: Iterable[int]) -> int:
        """Adds members; returns how many were new."""
        record = self.lists[list_id]
        before = len(record.members)
        record.members.update(contact_ids)
        record.updated_at = int(self.clock())
        return len(record.members) - before

    def remove(self, list_id: int, contact_ids: Iterable[int]) -> int:
        record = self.lists[list_id]
        before = len(record.members)
        record.members.difference_update(contact_ids)
        record.updated_at = int(self.clock())
        return before - len(record.members)

    def forget_contact(self, contact_id: int) -> None:
        for record in self.lists.values():
            record.members.discard(contact_id)

    def memberships(self, contact_id: int) -> list[ContactList]:
        return [r for r in self.lists.values() if contact_id in r.members]
