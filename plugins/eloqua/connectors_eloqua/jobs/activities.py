"""Create Eloqua Activity upon Registration / Session / Agenda Item Status Change (spec §8, 6-8).

Event-triggered jobs: each status change of the kind a job listens to becomes one Eloqua
external activity (``activity_events.on_event``), delivered exactly once by the core's delivery
ledger. Before a job receives any change, a worker checks its parameters against Eloqua
(``validate``: the asset type, the activity types under it, the campaign). A run of the job
("Run now", or a schedule) checks them again if they were never accepted, then catches up: it
plans the changes the job missed since its last successful run (while it was disabled, or lost
with an in-memory bus) and lists the deliveries waiting for an administrator (parked or
uncertain) among the run's problems.
"""
from __future__ import annotations

from typing import Any

from connectors import JobContext, JobFailed, JobType

from ..errors import EloquaNotFound
from . import activity_events
from .activity_params import params_schema
from .common import client_for_run, eloqua_errors

REGISTRATION, SESSION, AGENDA_ITEM = ("registration.status_changed", "session_registration.status_changed",
                                      "agenda_item_registration.status_changed")
SESSION_STATUSES = ("Registered", "Waitlisted", "Cancelled", "No Show", "Attended")
AGENDA_ITEM_STATUSES = ("Registered", "Waitlisted", "Cancelled")


def validator(statuses: tuple[str, ...] | None):
    """``validate`` for a job whose changes take ``statuses`` (None: the event's registration statuses)."""
    def validate(ctx: JobContext, params: dict[str, Any]) -> str:
        note = check_in_eloqua(ctx, params)
        allowed = list(statuses) if statuses is not None else list(ctx.store.status_labels())
        unknown = sorted(s for s in params["status_activities"] if s not in allowed)
        if unknown:
            raise JobFailed(f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not among the "
                            f"statuses these changes take: {', '.join(allowed)}", code="status")
        return note
    return validate


def check_in_eloqua(ctx: JobContext, params: dict[str, Any]) -> str:
    """The asset type, its activity types and the campaign must exist (the campaign active);
    ``JobFailed`` names what is missing and what there is."""
    with eloqua_errors("The job was not accepted."):
        client = client_for_run(ctx)
        types = client.external_asset_types()
        asset_type = next((t for t in types if str(t.get("name", "")).lower() == params["asset_type"].lower()), None)
        if asset_type is None:
            raise JobFailed(f"the external asset type {params['asset_type']!r} does not exist in Eloqua; there are: "
                            f"{', '.join(sorted(str(t.get('name')) for t in types)) or 'none'}", code="asset_type")
        offered = {str(a.get("name", "")).lower(): a.get("name") for a in asset_type.get("activityTypes") or []}
        missing = sorted({a for a in params["status_activities"].values() if a.lower() not in offered})
        if missing:
            raise JobFailed(f"the activity type(s) {', '.join(map(repr, missing))} do not exist under the asset type "
                            f"{asset_type['name']!r} in Eloqua; it has: {', '.join(sorted(map(str, offered.values())))}",
                            code="activity_type")
        campaign_note = ""
        if params.get("campaign_id"):
            try:
                campaign = client.get_campaign(params["campaign_id"])
            except EloquaNotFound:
                raise JobFailed(f"campaign {params['campaign_id']} does not exist in Eloqua", code="campaign") from None
            if str(campaign.get("currentStatus", "Active")).lower() != "active":
                raise JobFailed(f"campaign {params['campaign_id']} ({campaign.get('name')}) is "
                                f"{campaign.get('currentStatus')}, not active: Eloqua refuses activities for it",
                                code="campaign")
            campaign_note = f", campaign {params['campaign_id']} {campaign.get('name')!r}"
    return f"asset type {asset_type['name']!r} with {len(params['status_activities'])} mapped status(es){campaign_note}"


def catch_up(ctx: JobContext, params: dict[str, Any]) -> None:
    """Plan the missed changes (the dispatcher sends them) and show what waits for a person."""
    found = ctx.catch_up()
    ctx.log.info("caught up since %s: %s change(s) planned; deliveries by state: %s",
                 ctx.since.isoformat() if ctx.since else "the job's submission", found.planned,
                 ", ".join(f"{k} {v}" for k, v in sorted(found.states.items())) or "none")
    for event_id, state, error in found.problems:
        ctx.record(event_id, "skipped", code=state, message=error or state, stage="delivery")
    ctx.progress(found.planned, found.planned)
    ctx.checkpoint.save(None)


def _job_type(key: str, label: str, trigger: str, *, subject: str | None, asset_type: str, template: str,
              activities: dict[str, str], statuses: tuple[str, ...] | None, description: str) -> JobType:
    return JobType(
        key=key, label=label, application="eloqua", scope="event",
        params_schema=params_schema(subject=subject, asset_type=asset_type, template=template, activities=activities,
                                    statuses=statuses),
        run=catch_up, triggers=(trigger,), on_event=activity_events.on_event, verify=activity_events.verify,
        validate=validator(statuses), description=description,
        event_choices={"status_filter": "registration_statuses"} if statuses is None else {})


JOB_TYPES = (
    _job_type("eloqua.activity_on_registration_status", "Create Eloqua Activity upon Reg Status Change", REGISTRATION,
              subject=None, asset_type="Certain Event", template="{event_name}",
              activities={"New": "Registered", "Attended": "Attended", "Cancelled": "Cancelled", "No-show": "No Show"},
              statuses=None,
              description="Each change of a registration's status becomes an external activity on the attendee's "
                          "Eloqua contact (asset: the event)."),
    _job_type("eloqua.activity_on_session_status", "Create Eloqua Activity upon Session Status Change", SESSION,
              subject="session", asset_type="Certain Session", template="{session_name}",
              activities={s: s for s in SESSION_STATUSES}, statuses=SESSION_STATUSES,
              description="Each change of an attendee's status in a session becomes an external activity "
                          "(asset: the session)."),
    _job_type("eloqua.activity_on_agenda_item_status", "Create Eloqua Activity upon Agenda Item Status Change",
              AGENDA_ITEM, subject="agenda_item", asset_type="Certain Agenda Item", template="{item_name}",
              activities={s: s for s in AGENDA_ITEM_STATUSES}, statuses=AGENDA_ITEM_STATUSES,
              description="Each change of an attendee's status for an agenda item becomes an external activity "
                          "(asset: the agenda item)."),
)
