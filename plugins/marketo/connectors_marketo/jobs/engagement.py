"""Upload Engagement Metrics to Marketo (spec §8.4).

One ``certainEngagement_c`` record per registration — keyed by attendeeId (the registration code,
which Create or Update Leads puts on the lead as ``certainAttendeeId``) and eventCode — with what
the attendee took and attended. Marketo smart campaigns built on the object turn the figures into
behavioural scores; the job only keeps the figures current, replacing them on every run.
"""
from __future__ import annotations

from typing import Any

from connectors import JobContext, JobType, RegistrationView

from .metrics_common import custom_object_field, incremental_field, upload
from .outbound import FILTER_CHOICES, RegistrationFilterParams, registration_key

KEY = "marketo.upload_engagement_metrics"
DEFAULT_OBJECT = "certainEngagement_c"
DEDUPE_FIELDS = ["attendeeId", "eventCode"]
METRIC_FIELDS = ["sessionsRegistered", "sessionsAttended", "sessionsNoShow", "sessionsWaitlisted",
                 "agendaItemsRegistered", "attendedEvent", "registrationStatus"]


class EngagementParams(RegistrationFilterParams):
    custom_object = custom_object_field(DEFAULT_OBJECT)
    incremental = incremental_field(2)


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    event_code = ctx.store.event.code

    def build(batch: list[RegistrationView]) -> list[tuple[str, dict[str, Any]]]:
        figures = ctx.store.engagement([view.position for view in batch])
        return [(registration_key(view), engagement_record(view, figures[view.position], event_code)) for view in batch]

    upload(ctx, params, DEDUPE_FIELDS, DEDUPE_FIELDS + METRIC_FIELDS, build)


def engagement_record(view: RegistrationView, figures, event_code: str) -> dict[str, Any]:
    """The custom-object record of one registration; ``figures`` is the store's ``Engagement``."""
    return {
        "attendeeId": view.registration_code,
        "eventCode": event_code,
        "sessionsRegistered": figures.sessions_registered,
        "sessionsAttended": figures.sessions_attended,
        "sessionsNoShow": figures.sessions.get("No Show", 0),
        "sessionsWaitlisted": figures.sessions.get("Waitlisted", 0),
        "agendaItemsRegistered": figures.agenda_items_registered,
        "attendedEvent": view.classification == "accepted" and view.status_label == "Attended",
        "registrationStatus": view.status_label,
    }


UPLOAD_ENGAGEMENT = JobType(
    key=KEY,
    label="Upload Engagement Metrics to Marketo",
    application="marketo",
    scope="event",
    params_schema=EngagementParams,
    run=run,
    description="Writes each registration's sessions registered/attended/no-show/waitlisted, agenda items and "
                "attendance to a Marketo custom object linked to the lead, updating the same record on every run.",
    event_choices=FILTER_CHOICES,
)
