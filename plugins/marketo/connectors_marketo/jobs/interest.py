"""Upload Interest Metrics to Marketo (spec §8.5).

Account-level tags ("Security", "Cloud"…) give points to sessions and agenda items; a
registration's score for a tag is the sum over the ones it takes with a qualifying status. The job
writes one ``certainInterest_c`` record per (attendeeId, eventCode, tag) holding that score.
Scores are always the full current sum, so ``createOrUpdate`` replaces them; with "zero out" on,
every tag is sent — a tag that dropped to 0 is set to 0 instead of keeping its old score.
"""
from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from connectors import JobContext, JobFailed, JobType, RegistrationView

from .metrics_common import custom_object_field, incremental_field, upload
from .outbound import FILTER_CHOICES, RegistrationFilterParams

KEY = "marketo.upload_interest_metrics"
DEFAULT_OBJECT = "certainInterest_c"
DEDUPE_FIELDS = ["attendeeId", "eventCode", "tag"]
SCORE_FIELD = "score"
#: the platform's session and agenda-item statuses (specs/certain.md §2.2–2.3)
SESSION_STATUSES = ("Registered", "Waitlisted", "Cancelled", "No Show", "Attended")
AGENDA_STATUSES = ("Registered", "Waitlisted", "Cancelled")


class InterestParams(RegistrationFilterParams):
    custom_object = custom_object_field(DEFAULT_OBJECT)
    session_statuses = fields.List(fields.String(validate=validate.OneOf(SESSION_STATUSES)),
                                   load_default=lambda: ["Registered", "Attended"], metadata={
        "label": "Session statuses that count", "order": 2,
        "description": "A session gives its tag points when the attendee's status for it is one of these"})
    agenda_statuses = fields.List(fields.String(validate=validate.OneOf(AGENDA_STATUSES)),
                                  load_default=lambda: ["Registered"], metadata={
        "label": "Agenda-item statuses that count", "order": 3,
        "description": "An agenda item gives its tag points when the attendee's status for it is one of these"})
    zero_out = fields.Boolean(load_default=True, metadata={
        "label": "Zero out tags that dropped to 0", "order": 4,
        "description": "Send every account tag, 0 included, so a score that fell to 0 is replaced in Marketo "
                       "(off: only tags with points are sent and an old score stays)"})
    incremental = incremental_field(5)


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    tags = ctx.store.tag_names()
    if not tags:
        raise JobFailed("The account has no interest tags: set up account-level tags and give sessions or agenda "
                        "items points for them first.", code="no_tags")
    event_code = ctx.store.event.code

    def build(batch: list[RegistrationView]) -> list[tuple[str, dict[str, Any]]]:
        scores = ctx.store.interest([view.position for view in batch], params["session_statuses"],
                                    params["agenda_statuses"])
        keyed = []
        for view in batch:
            for tag in tags:
                score = scores[view.position].get(tag, 0)
                if score or params["zero_out"]:
                    keyed.append((f"{view.registration_code} {tag}", {
                        "attendeeId": view.registration_code, "eventCode": event_code, "tag": tag, SCORE_FIELD: score}))
        return keyed

    upload(ctx, params, DEDUPE_FIELDS, DEDUPE_FIELDS + [SCORE_FIELD], build, per_registration=len(tags))


UPLOAD_INTEREST = JobType(
    key=KEY,
    label="Upload Interest Metrics to Marketo",
    application="marketo",
    scope="event",
    params_schema=InterestParams,
    run=run,
    description="Writes each registration's interest score per account tag (points of the sessions and agenda "
                "items it takes) to a Marketo custom object, replacing the scores on every run.",
    event_choices=FILTER_CHOICES,
)
