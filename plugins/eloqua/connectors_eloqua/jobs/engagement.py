"""Upload Engagement Metrics to Eloqua (spec §8.4).

One record per registration in the custom object "Certain Event Engagement", keyed by
``EngagementKey = <eventCode>:<registrationCode>`` and linked to the contact with the same email:
status, attendee type, check-in, sessions registered and attended, and an engagement score.
Eloqua segments and lead scoring built on the object use the figures; the job keeps them current,
replacing the same record on every run.
"""
from __future__ import annotations

from typing import Any

from connectors import JobContext, JobType, RegistrationView

from .metrics_common import Built, MetricsParams, custom_object_field, upload
from .outbound import FILTER_CHOICES, registration_key

KEY = "eloqua.upload_engagement_metrics"
DEFAULT_OBJECT = "Certain Event Engagement"
KEY_FIELD, EMAIL_FIELD = "EngagementKey", "EmailAddress"
FIELDS = [KEY_FIELD, EMAIL_FIELD, "EventCode", "EventName", "RegistrationStatus", "AttendeeType", "CheckedIn",
          "SessionsRegistered", "SessionsAttended", "EngagementScore", "LastUpdated"]
#: engagement score: points for being checked in, per session attended, per session taken, per agenda item
SCORE_WEIGHTS = {"checked_in": 10, "session_attended": 5, "session_registered": 2, "agenda_item": 1}
SETUP = ("Create it in Eloqua (Audience > Custom Objects) with the fields " + ", ".join(FIELDS) +
         " (internal names as written here; the counts and score numeric, LastUpdated a date), EngagementKey as its unique code field and EmailAddress as its email "
         "address field (see docs/eloqua.md).")


class EngagementParams(MetricsParams):
    custom_object = custom_object_field(DEFAULT_OBJECT)


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    event = ctx.store.event

    def build(batch: list[RegistrationView]) -> list[Built]:
        figures = ctx.store.engagement([view.position for view in batch])
        built = []
        for view in batch:
            record = engagement_record(view, figures[view.position], event.code, event.name)
            built.append(Built(view, registration_key(view), record[KEY_FIELD], record))
        return built

    upload(ctx, params, params["custom_object"], KEY_FIELD, EMAIL_FIELD, FIELDS, SETUP, build)


def engagement_record(view: RegistrationView, figures, event_code: str, event_name: str) -> dict[str, Any]:
    """The custom-object record of one registration; ``figures`` is the store's ``Engagement``."""
    checked_in = view.classification == "accepted" and view.status_label == "Attended"
    score = (SCORE_WEIGHTS["checked_in"] * checked_in + SCORE_WEIGHTS["session_attended"] * figures.sessions_attended
             + SCORE_WEIGHTS["session_registered"] * figures.sessions_registered
             + SCORE_WEIGHTS["agenda_item"] * figures.agenda_items_registered)
    record = {
        KEY_FIELD: f"{event_code}:{view.registration_code}",
        EMAIL_FIELD: view.profile["email"],
        "EventCode": event_code,
        "EventName": event_name,
        "RegistrationStatus": view.status_label,
        "AttendeeType": view.attendee_type_code,
        "CheckedIn": "Yes" if checked_in else "No",
        "SessionsRegistered": figures.sessions_registered,
        "SessionsAttended": figures.sessions_attended,
        "EngagementScore": score,
    }
    if view.date_modified is not None:
        record["LastUpdated"] = view.date_modified.strftime("%Y-%m-%d %H:%M:%S")
    return record


UPLOAD_ENGAGEMENT = JobType(
    key=KEY,
    label="Upload Engagement Metrics to Eloqua",
    application="eloqua",
    scope="event",
    params_schema=EngagementParams,
    run=run,
    description="Writes each registration's status, check-in, sessions registered and attended and an engagement "
                "score to an Eloqua custom object linked to the contact by email, updating the same record every run.",
    event_choices=FILTER_CHOICES,
)
JOB_TYPES = (UPLOAD_ENGAGEMENT,)
