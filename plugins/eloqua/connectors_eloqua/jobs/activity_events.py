"""One status change -> one Eloqua external activity (spec §8, 6-8; §2.6).

``on_event`` resolves the attendee's Eloqua contact (the id stored on the profile, else a REST
search by email, else — when the job says so — a new contact), then creates the activity. The
client checks before it resends a create whose answer was lost; when even that check cannot
tell, ``DeliveryUncertain`` hands the question to the core, which asks ``verify`` later (and
again until Eloqua answers) and never sends blindly a second time. ``verify`` looks the
activity up by its exact values (contact, type, asset, campaign, date) with the same search.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors import DeliveryUncertain, EventContext, JobFailed

from ..client import EloquaClient
from ..errors import EloquaAmbiguousError, EloquaConflict, EloquaValidationError
from .common import CONTACT_ID_SYSTEM, client_for_run

#: profile field -> Eloqua REST contact property, for contacts the job creates
CONTACT_PROPERTIES = (("email", "emailAddress"), ("first_name", "firstName"), ("last_name", "lastName"),
                      ("organization", "accountName"), ("position", "title"), ("phone", "businessPhone"),
                      ("city", "city"), ("country", "country"))


@dataclass(frozen=True)
class Activity:
    """What one status change becomes in Eloqua."""

    activity_type: str
    asset_type: str
    asset_name: str
    activity_date: int
    campaign_id: int | None


def activity_for(ctx: EventContext, params: dict[str, Any], event: dict[str, Any]) -> Activity | None:
    """The activity this change calls for, or None when its status is filtered out or unmapped."""
    status = (event.get("current") or {}).get("status")
    if params.get("status_filter") and status not in params["status_filter"]:
        return None
    activity_type = activity_type_for(ctx, params, status)
    if activity_type is None:
        return None
    return Activity(activity_type, params["asset_type"], asset_name(ctx, params, event),
                    int(_parse_time(event["occurred_at"]).timestamp()), params.get("campaign_id"))


def activity_type_for(ctx: EventContext, params: dict[str, Any], status: str | None) -> str | None:
    """The job's own ``status_activities`` first; a status it does not list falls back on the
    plugin configuration's status mappings (Third-Party Plugins page), so an administrator maps
    a status once for every job."""
    own = params["status_activities"].get(status)
    return own if own is not None else ctx.status_mappings.get(status) if status is not None else None


def asset_name(ctx: EventContext, params: dict[str, Any], event: dict[str, Any]) -> str:
    info, subject = ctx.store.event, event.get("subject") or {}
    values = {"event_code": event.get("event_code") or (info.code if info else ""),
              "event_name": info.name if info else event.get("event_code", ""),
              "registration_code": event.get("registration_code", ""),
              "status": (event.get("current") or {}).get("status", ""),
              "attendee_type": event.get("attendee_type_code") or "",
              "session_code": subject.get("code", ""), "session_name": subject.get("name") or subject.get("code", ""),
              "item_code": subject.get("code", ""), "item_name": subject.get("name") or subject.get("code", "")}
    return params["asset_name_template"].format_map(values).strip()[:100] or values["event_code"]


def on_event(ctx: EventContext, params: dict[str, Any], event: dict[str, Any]) -> str | None:
    activity = activity_for(ctx, params, event)
    if activity is None:
        return None
    client = client_for_run(ctx)
    contact_id, known = _contact_or_park(ctx, client, params, event)
    try:
        created = _create(client, contact_id, activity)
    except EloquaValidationError as exc:
        if not (known and _about_contact(exc)):
            raise JobFailed(f"Eloqua refused the activity: {_reasons(exc)}", code="rejected") from exc
        # the stored contact is gone (merged or deleted in Eloqua): look it up by email again
        contact_id, known = _contact_or_park(ctx, client, params, event, stored=False)
        created = _create(client, contact_id, activity)
    if not known:
        _remember(ctx, event, contact_id)
    ctx.log.debug("activity %s (%s) for contact %s", created.get("id"), activity.activity_type, contact_id)
    return str(created["id"])


def verify(ctx: EventContext, params: dict[str, Any], event: dict[str, Any]) -> bool:
    """Did an interrupted ``on_event`` create the activity? Raises when Eloqua cannot answer now."""
    activity = activity_for(ctx, params, event)
    if activity is None:
        return True  # nothing was to be sent
    client = client_for_run(ctx)
    contact_id, _ = contact_for(ctx, client, params, event, create=False)
    if contact_id is None:
        return False  # no contact, so no activity either
    return bool(client.find_activities(contact_id, activity.activity_type, activity.asset_type, activity.asset_name,
                                       activity.activity_date, activity.campaign_id))


def contact_for(ctx: EventContext, client: EloquaClient, params: dict[str, Any], event: dict[str, Any], *,
                create: bool, stored: bool = True) -> tuple[int | None, bool]:
    """(contact id, whether the profile already had it); (None, False) when Eloqua has no contact
    with the attendee's email and ``create`` is off."""
    registration = ctx.registration(event["registration_code"])
    if stored and registration is not None and registration.external_ids.get(CONTACT_ID_SYSTEM):
        return int(registration.external_ids[CONTACT_ID_SYSTEM]), True
    profile = registration.profile if registration is not None else (event.get("profile") or {})
    email = (profile.get("email") or (event.get("profile") or {}).get("email") or "").strip()
    if not email:
        raise JobFailed(f"registration {event.get('registration_code')} has no email to find its Eloqua contact by",
                        code="no_email")
    found = client.find_contacts_by_email(email, depth="minimal")
    if found:
        return int(found[0]["id"]), False
    if not create:
        return None, False
    body = {prop: profile.get(name) for name, prop in CONTACT_PROPERTIES if profile.get(name) not in (None, "")}
    try:
        return int(client.create_contact({**body, "emailAddress": email})["id"]), False
    except EloquaConflict:  # created by someone else meanwhile
        return int(client.find_contacts_by_email(email, depth="minimal")[0]["id"]), False


def _contact_or_park(ctx: EventContext, client: EloquaClient, params: dict[str, Any], event: dict[str, Any],
                     stored: bool = True) -> tuple[int, bool]:
    contact_id, known = contact_for(ctx, client, params, event, create=bool(params.get("create_missing_contacts")),
                                    stored=stored)
    if contact_id is None:  # retrying cannot help until the contact exists: park it for an administrator
        email = (event.get("profile") or {}).get("email") or event.get("registration_code")
        raise JobFailed(f"no Eloqua contact has the email of {email}: create the contact (or tick 'Create missing "
                        "contacts' on the job) and retry", code="no_contact")
    return contact_id, known


def _create(client: EloquaClient, contact_id: int | None, activity: Activity) -> dict[str, Any]:
    try:
        return client.create_activity(contact_id, activity.activity_type, activity.asset_type, activity.asset_name,
                                      activity.activity_date, campaign_id=activity.campaign_id)
    except EloquaAmbiguousError as exc:
        raise DeliveryUncertain(f"the activity may have been created: {exc.message}") from exc


def _remember(ctx: EventContext, event: dict[str, Any], contact_id: int) -> None:
    """Keep the contact id on the profile (committed with the delivery): the next change skips the search."""
    code = event["registration_code"]
    ctx.store.link_external_ids([{"key": code, "registration_code": code,
                                  "external_ids": {CONTACT_ID_SYSTEM: str(contact_id)}}])


def _about_contact(exc: EloquaValidationError) -> bool:
    return any(isinstance(e, dict) and e.get("property") == "contactId" for e in exc.errors)


def _reasons(exc: EloquaValidationError) -> str:
    parts = [f"{e.get('property')}: {e.get('message') or (e.get('requirement') or {}).get('type', '')}".strip()
             for e in exc.errors if isinstance(e, dict) and e.get("property")]
    return "; ".join(parts) or exc.message


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
