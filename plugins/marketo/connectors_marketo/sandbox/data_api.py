"""The sandbox's Python API for data: what tests and the demo put in and read back, all under
the sandbox's lock (the HTTP handlers hold it too)."""
from __future__ import annotations

import threading
from typing import Any, Iterable

from .campaigns import CampaignRun, CampaignStore
from .customobjects import CustomObjectStore, ObjectType
from .lead_write_routes import LeadWrite
from .store import LeadStore


class DataApi:
    lock: threading.RLock
    store: LeadStore
    campaigns: CampaignStore
    custom_objects: CustomObjectStore
    lead_partitions: dict[int, str]
    partitions: set[str]
    lead_writes: list[LeadWrite]

    # -- leads ---------------------------------------------------------------------------------------
    def add_lead(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            return dict(self.store.add_lead(fields))

    def add_leads(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(self.store.add_lead(dict(r))) for r in records]

    def get_lead(self, lead_id: int) -> dict[str, Any] | None:
        with self.lock:
            lead = self.store.leads.get(int(lead_id))
            return dict(lead) if lead else None

    def find_leads(self, field: str, value: Any) -> list[dict[str, Any]]:
        """Leads whose ``field`` equals ``value`` (emails ignore case)."""
        with self.lock:
            return [dict(lead) for lead in self.store.find_leads(field, [str(value)])]

    @property
    def leads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(lead) for lead in self.store.leads.values()]

    def add_field(self, name: str, display_name: str, data_type: str = "string", **options: Any) -> None:
        with self.lock:
            self.store.add_field(name, display_name, data_type, **options)

    def add_partition(self, name: str) -> None:
        with self.lock:
            self.partitions.add(name)

    def lead_partition(self, lead_id: int) -> str:
        with self.lock:
            return self.lead_partitions.get(int(lead_id), "Default")

    # -- static lists ------------------------------------------------------------------------------
    def add_list(self, name: str, lead_ids: Iterable[int] = (), **options: Any) -> dict[str, Any]:
        with self.lock:
            record = self.store.add_list(name, **options)
            self.store.add_members(record["id"], lead_ids)
            return dict(record)

    def add_to_list(self, list_id: int, lead_ids: Iterable[int]) -> None:
        with self.lock:
            self.store.add_members(list_id, lead_ids)

    def list_members(self, list_id: int) -> list[int]:
        with self.lock:
            return sorted(self.store.members.get(list_id, ()))

    def find_list(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.store.find_lists(names={name})
            return dict(found[0]) if found else None

    # -- campaigns -----------------------------------------------------------------------------------
    def add_campaign(self, name: str, **options: Any) -> dict[str, Any]:
        """``type`` trigger|batch, ``active``, ``requestable`` (default: trigger campaigns are),
        ``program_name``, ``workspace_name``, ``description``, ``campaign_id``."""
        with self.lock:
            return dict(self.campaigns.add(name, **options))

    def get_campaign(self, campaign_id: int) -> dict[str, Any] | None:
        with self.lock:
            record = self.campaigns.campaigns.get(int(campaign_id))
            return dict(record) if record else None

    @property
    def campaign_runs(self) -> list[CampaignRun]:
        """Every accepted Request Campaign call, in order."""
        with self.lock:
            return list(self.campaigns.runs)

    # -- custom objects ------------------------------------------------------------------------------
    def add_custom_object_type(self, object_type: ObjectType) -> None:
        with self.lock:
            self.custom_objects.add_type(object_type)

    def custom_object_records(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.custom_objects.records.get(name, [])]

    # -- lead writes -----------------------------------------------------------------------------------
    def overlapping_upserts(self) -> set[str]:
        """Lookup keys sent in two Sync Leads requests that were in flight at the same time —
        what can make the real Marketo create duplicates (spec §2.2)."""
        with self.lock:
            writes = list(self.lead_writes)
        found: set[str] = set()
        for i, first in enumerate(writes):
            for second in writes[i + 1:]:
                if first.overlaps(second):
                    found |= set(first.keys) & set(second.keys)
        return found
