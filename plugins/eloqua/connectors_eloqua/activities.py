"""External activities (spec §2.6) and what they hang on: asset types with their activity types,
external assets, campaigns.

Creating an activity is the status-change jobs' bread and butter, and it must never happen
twice. Eloqua has no way to list activities over REST, so when a create fails in a way that
leaves open whether it happened, the client asks a small Bulk activity export for activities of
that type at that exact second and matches contact, asset and campaign [infer: statement names
of activity exports]. Found: the create happened, return it. Not found: send it again. The
check itself failing: ``EloquaAmbiguousError`` — the caller records "unknown", never resends.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .creates import create_checked
from .rest import pages
from .retry import PollPolicy

#: the ambiguity check is a small export: poll briskly and give up after 10 minutes
CHECK_POLL = PollPolicy(first_delay=1.0, max_delay=30.0, deadline=600.0)
CHECK_FIELDS = {"ActivityId": "{{Activity.Id}}", "ContactId": "{{Activity.Contact.Id}}",
                "ActivityType": "{{Activity.Type}}", "AssetType": "{{Activity.Asset.Type}}",
                "AssetName": "{{Activity.Asset.Name}}", "CampaignId": "{{Activity.Campaign.Id}}"}


class ActivitiesApi:
    def create_activity(self, contact_id: int | str, activity_type: str, asset_type: str, asset_name: str,
                        activity_date: int | float, *, campaign_id: int | str | None = None, name: str | None = None,
                        description: str | None = None, field_values: list[dict[str, Any]] | None = None
                        ) -> dict[str, Any]:
        """``POST /api/REST/2.0/data/activity``; ``activity_date`` is when the contact did it (Unix)."""
        body: dict[str, Any] = {"type": "Activity", "contactId": str(int(contact_id)), "activityType": activity_type,
                                "assetType": asset_type, "assetName": asset_name,
                                "activityDate": str(int(activity_date)), "name": name or f"{asset_name} - {activity_type}"}
        if campaign_id not in (None, ""):
            body["campaignId"] = str(int(campaign_id))
        if description:
            body["description"] = description
        if field_values:
            body["fieldValues"] = field_values
        return create_checked(
            self, lambda: self.rest("POST", "data/activity", version="2.0", json=body, idempotent=False),
            lambda: self._existing_activity(body))

    def get_activity(self, activity_id: int | str) -> dict[str, Any]:
        return self.rest("GET", f"data/activity/{int(activity_id)}", version="2.0")

    def find_activities(self, contact_id: int | str, activity_type: str, asset_type: str, asset_name: str,
                        activity_date: int | float, campaign_id: int | str | None = None,
                        poll: PollPolicy = CHECK_POLL) -> list[dict[str, Any]]:
        """Activities with exactly these values, from a Bulk activity export (ids and fields)."""
        moment = datetime.fromtimestamp(int(activity_date), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        filter_ = (f"'{{{{Activity.CreatedAt}}}}' >= '{moment}' AND '{{{{Activity.CreatedAt}}}}' <= '{moment}' "
                   f"AND '{{{{Activity.Type}}}}' = '{_quoted(activity_type)}'")
        rows = self.export_all("activities/exports", {
            "name": f"Connectors activity check {contact_id} {int(activity_date)}", "fields": CHECK_FIELDS,
            "filter": filter_, "areSystemTimestampsInUTC": True, "dataRetentionDuration": "PT1H"}, poll=poll)
        wanted = (str(int(contact_id)), asset_type.lower(), asset_name, str(int(campaign_id)) if campaign_id else "")
        return [r for r in rows
                if (r.get("ContactId"), str(r.get("AssetType", "")).lower(), r.get("AssetName"),
                    r.get("CampaignId") or "") == wanted]

    def _existing_activity(self, body: dict[str, Any]) -> dict[str, Any] | None:
        found = self.find_activities(body["contactId"], body["activityType"], body["assetType"], body["assetName"],
                                     int(body["activityDate"]), body.get("campaignId"))
        return self.get_activity(found[0]["ActivityId"]) if found else None

    # -- taxonomy ---------------------------------------------------------------------------------------
    def external_asset_types(self) -> list[dict[str, Any]]:
        """Asset types with their ``activityTypes`` (to validate a job's configuration)."""
        return list(pages(lambda p: self.rest("GET", "assets/external/types", version="2.0", params=p), {}))

    def external_assets(self) -> list[dict[str, Any]]:
        return list(pages(lambda p: self.rest("GET", "assets/externals", version="2.0", params=p), {}))

    def get_campaign(self, campaign_id: int | str) -> dict[str, Any]:
        return self.rest("GET", f"assets/campaign/{int(campaign_id)}", version="2.0")


def _quoted(value: str) -> str:
    return value.replace("'", "''")
