"""Upload Interest Metrics to Eloqua (spec §8.5).

Account-level tags ("Security", "Cloud"…) give points to sessions and agenda items. A
registration's score for a tag is the sum of the points of the sessions it registered for and
attended and the agenda items it registered for, each multiplied by a weight (attending counts
double by default). One record per (registration, tag) goes to the custom object "Certain Event
Interest", keyed by ``<eventCode>:<registrationCode>:<tag>`` and linked to the contact by email.
A score of 0 is sent only when this job once sent that key a score, so a stale score is reset
and the object does not fill up with zeros.
"""
from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, JobType, RegistrationView

from .metrics_common import Built, MetricsParams, custom_object_field, upload
from .outbound import FILTER_CHOICES, registration_key

KEY = "eloqua.upload_interest_metrics"
DEFAULT_OBJECT = "Certain Event Interest"
KEY_FIELD, EMAIL_FIELD, SCORE_FIELD = "InterestKey", "EmailAddress", "Score"
FIELDS = [KEY_FIELD, EMAIL_FIELD, "EventCode", "Tag", SCORE_FIELD]
SETUP = ("Create it in Eloqua (Audience > Custom Objects) with the fields " + ", ".join(FIELDS) +
         " (internal names as written here; Score numeric), InterestKey as its unique code field and EmailAddress "
         "as its email address field (see docs/eloqua.md).")


def _weight(label: str, default: int, order: int, what: str) -> fields.Integer:
    return fields.Integer(load_default=default, validate=validate.Range(min=0, max=100), metadata={
        "label": label, "order": order, "description": f"Each point of {what} counts this many times (0: not at all)"})


class InterestParams(MetricsParams):
    custom_object = custom_object_field(DEFAULT_OBJECT)
    registered_weight = _weight("Weight of sessions registered", 1, 2, "a session registered for (not attended yet)")
    attended_weight = _weight("Weight of sessions attended", 2, 3, "a session attended")
    agenda_weight = _weight("Weight of agenda items", 1, 4, "an agenda item registered for")


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    tags = ctx.store.tag_names()
    if not tags:
        raise JobFailed("The account has no interest tags: set up account-level tags and give sessions or agenda "
                        "items points for them first.", code="no_tags")
    event_code = ctx.store.event.code

    def build(batch: list[RegistrationView]) -> list[Built]:
        scores = weighted_scores(ctx, [view.position for view in batch], params)
        built = []
        for view in batch:
            for tag in tags:
                score = scores[view.position].get(tag, 0)
                key = f"{event_code}:{view.registration_code}:{tag}"
                record = {KEY_FIELD: key, EMAIL_FIELD: view.profile["email"], "EventCode": event_code, "Tag": tag,
                          SCORE_FIELD: score}
                built.append(Built(view, f"{registration_key(view)} {tag}", key, record, zero=score == 0))
        return built

    upload(ctx, params, params["custom_object"], KEY_FIELD, EMAIL_FIELD, FIELDS, SETUP, build,
           per_registration=len(tags))


def weighted_scores(ctx: JobContext, positions: list[int], params: dict[str, Any]) -> dict[int, dict[str, int]]:
    """Per registration and tag: the weighted sum of the points of its sessions and agenda items."""
    parts = (((params["registered_weight"]), ("Registered",), ()), ((params["attended_weight"]), ("Attended",), ()),
             ((params["agenda_weight"]), (), ("Registered",)))
    totals: dict[int, dict[str, int]] = {p: {} for p in positions}
    for weight, session_statuses, agenda_statuses in parts:
        if not weight:
            continue
        for position, by_tag in ctx.store.interest(positions, session_statuses, agenda_statuses).items():
            for tag, points in by_tag.items():
                totals[position][tag] = totals[position].get(tag, 0) + weight * points
    return totals


UPLOAD_INTEREST = JobType(
    key=KEY,
    label="Upload Interest Metrics to Eloqua",
    application="eloqua",
    scope="event",
    params_schema=InterestParams,
    run=run,
    description="Writes each registration's interest score per account tag (weighted points of the sessions and "
                "agenda items it takes) to an Eloqua custom object linked to the contact by email.",
    event_choices=FILTER_CHOICES,
)
JOB_TYPES = (UPLOAD_INTEREST,)
