"""External activities and what they hang on (spec §2.6): asset types (``Certain Event``) with
their activity types (``Registered``, ``Attended`` …), named external assets (created on first
use), campaigns, and the activities themselves. ``check`` holds the rules REST and Bulk share
and answers with the Bulk status code of the first one broken."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass
class AssetType:
    id: int
    name: str
    activity_types: dict[int, str] = field(default_factory=dict)  # id -> name

    def has(self, activity_type: str) -> bool:
        return any(name.lower() == activity_type.lower() for name in self.activity_types.values())

    def rest(self) -> dict[str, Any]:
        return {"type": "ExternalAssetType", "id": str(self.id), "name": self.name, "depth": "complete",
                "activityTypes": [{"type": "ExternalActivityType", "id": str(i), "name": n}
                                  for i, n in sorted(self.activity_types.items())]}


@dataclass
class Asset:
    id: int
    name: str
    type_id: int

    def rest(self) -> dict[str, Any]:
        return {"type": "ExternalAsset", "id": str(self.id), "name": self.name, "externalAssetTypeId": str(self.type_id),
                "depth": "complete"}


@dataclass
class Campaign:
    id: int
    name: str
    status: str = "Active"  # Active | Draft | Scheduled | Completed

    def rest(self, depth: str = "complete") -> dict[str, Any]:
        return {"type": "Campaign", "id": str(self.id), "name": self.name, "currentStatus": self.status, "depth": depth}


@dataclass
class Activity:
    id: int
    contact_id: int
    activity_type: str
    asset_type: str
    asset_name: str
    activity_date: int
    campaign_id: int | None = None
    name: str = ""
    description: str = ""
    field_values: list[dict[str, Any]] = field(default_factory=list)
    created_at: int = 0
    created_by: str = ""

    def rest(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "Activity", "id": str(self.id), "depth": "complete",
                               "activityDate": str(self.activity_date), "activityType": self.activity_type,
                               "assetName": self.asset_name, "assetType": self.asset_type,
                               "contactId": str(self.contact_id), "name": self.name,
                               "createdAt": str(self.created_at), "createdBy": self.created_by,
                               "fieldValues": self.field_values}
        if self.campaign_id is not None:
            out["campaignId"] = str(self.campaign_id)
        if self.description:
            out["description"] = self.description
        return out


class ActivityStore:
    def __init__(self, clock: Callable[[], float], contact_exists: Callable[[int], bool]):
        self.clock = clock
        self.contact_exists = contact_exists
        self.asset_types: dict[int, AssetType] = {}
        self.assets: dict[int, Asset] = {}
        self.campaigns: dict[int, Campaign] = {}
        self.activities: dict[int, Activity] = {}
        self._ids = {"type": 1, "activity_type": 1, "asset": 1, "activity": 900_001}

    def _next(self, kind: str) -> int:
        value = self._ids[kind]
        self._ids[kind] += 1
        return value

    # -- taxonomy -------------------------------------------------------------------------------------
    def add_asset_type(self, name: str, activity_types: Iterable[str]) -> AssetType:
        asset_type = AssetType(self._next("type"), name, {self._next("activity_type"): n for n in activity_types})
        self.asset_types[asset_type.id] = asset_type
        return asset_type

    def asset_type(self, name: str) -> AssetType | None:
        return next((t for t in self.asset_types.values() if t.name.lower() == name.lower()), None)

    def asset(self, type_id: int, name: str) -> Asset | None:
        return next((a for a in self.assets.values() if a.type_id == type_id and a.name == name), None)

    def add_asset(self, type_id: int, name: str) -> Asset:
        asset = Asset(self._next("asset"), name, type_id)
        self.assets[asset.id] = asset
        return asset

    def add_campaign(self, name: str, campaign_id: int | None = None, status: str = "Active") -> Campaign:
        campaign = Campaign(campaign_id or 1000 + len(self.campaigns) + 1, name, status)
        self.campaigns[campaign.id] = campaign
        return campaign

    # -- activities -------------------------------------------------------------------------------------
    def check(self, contact_id: Any, asset_type: str, activity_type: str, campaign_id: Any) -> tuple[str, str, str] | None:
        """None when an activity with these may be created, else (ELQ code, message, field)."""
        if not _is_int(contact_id) or not self.contact_exists(int(contact_id)):
            return "ELQ-00085", "Contact does not exist.", "contactId"
        kind = self.asset_type(asset_type or "")
        if kind is None:
            return "ELQ-00072", "Asset Type not found.", "assetType"
        if not kind.has(activity_type or ""):
            return "ELQ-00070", "Activity Type not found.", "activityType"
        if campaign_id not in (None, ""):
            campaign = self.campaigns.get(int(campaign_id)) if _is_int(campaign_id) else None
            if campaign is None:
                return "ELQ-00055", "Campaign not found.", "campaignId"
            if campaign.status != "Active":
                return "ELQ-00132", "Campaign not active.", "campaignId"
        return None

    def create(self, contact_id: int, asset_type: str, activity_type: str, asset_name: str, activity_date: int,
               campaign_id: int | None = None, created_by: str = "", **details: Any) -> tuple[Activity, bool]:
        """The new activity and whether its asset had to be created (ELQ-00068)."""
        kind = self.asset_type(asset_type)
        canonical = next(n for n in kind.activity_types.values() if n.lower() == activity_type.lower())
        new_asset = self.asset(kind.id, asset_name) is None
        if new_asset:
            self.add_asset(kind.id, asset_name)
        activity = Activity(self._next("activity"), contact_id, canonical, kind.name, asset_name, activity_date,
                            campaign_id, created_at=int(self.clock()), created_by=created_by, **details)
        if not activity.name:
            activity.name = f"{asset_name} - {canonical}"
        self.activities[activity.id] = activity
        return activity, new_asset


def _is_int(value: Any) -> bool:
    try:
        int(str(value))
        return True
    except ValueError:
        return False
