"""A small plugin for core tests: imports people given in its parameters, a page at a time."""
from marshmallow import Schema, fields, validate

from connectors import Application, JobFailed, JobType, MappingDefault, QuotaExhausted, hookimpl, registration_filters


class SampleConnection(Schema):
    url = fields.String(required=True, metadata={"label": "URL"})
    token = fields.String(required=True, metadata={"label": "Token", "secret": True})


class ImportPeopleParams(Schema):
    people = fields.List(fields.Dict(), required=True, metadata={"label": "People"})
    page_size = fields.Integer(load_default=2, validate=validate.Range(min=1, max=300), metadata={"label": "Page size"})
    attendee_type_code = fields.String(load_default="Attendee", metadata={"label": "Attendee type"})
    status_label = fields.String(load_default="New", metadata={"label": "Registration status"})
    overwrite_status = fields.Boolean(load_default=False, metadata={"label": "Overwrite status"})
    fail_with = fields.String(load_default=None, allow_none=True, metadata={"label": "Fail with"})


def import_people(ctx, params):
    if params["fail_with"] == "jobfailed":
        raise JobFailed("the remote list does not exist", code="1013")
    if params["fail_with"] == "bug":
        raise ZeroDivisionError("oops")
    state = ctx.checkpoint.load() or {"offset": 0}
    people, size = params["people"], params["page_size"]
    ctx.log.info("starting at offset %s", state["offset"])
    for offset in range(state["offset"], len(people), size):
        page = people[offset:offset + size]
        rows = [{"key": p.get("email") or p["id"], "fields": ctx.mappings.apply("inbound", p, prefix="profile"),
                 "external_ids": {"sample_id": p["id"]}} for p in page if ctx.wants(p.get("email") or p["id"])]
        regs = []
        for res in ctx.store.upsert_profiles(rows, match_on="email", policies=ctx.mappings.policies("inbound")):
            if res.outcome in ("skipped", "failed"):
                ctx.record(res.key, res.outcome, res.code, res.message, stage="load")
            else:
                regs.append({"key": res.key, "profile_id": res.id, "attendee_type_code": params["attendee_type_code"],
                             "status_label": params["status_label"], "source": "connector:sample"})
        for res in ctx.store.upsert_registrations(regs, overwrite_status=params["overwrite_status"]):
            ctx.record(res.key, res.outcome, res.code, res.message, stage="load")
        ctx.progress(offset + len(page), len(people))
        ctx.checkpoint.save({"offset": offset + size})
        if params["fail_with"] == "after_first_page":
            raise RuntimeError("connection reset")
        if params["fail_with"] == "quota_after_first_page" and state["offset"] == 0:
            raise QuotaExhausted("daily quota reached", code="607")
        if params["fail_with"] == "database_gone_after_first_page" and state["offset"] == 0:  # PostgreSQL went away
            from sqlalchemy.exc import OperationalError
            raise OperationalError("UPDATE registrations ...", {}, Exception("server closed the connection unexpectedly"))


class NotifyParams(Schema):
    status_labels = fields.List(fields.String(), load_default=None, metadata={"label": "Statuses"})


def notify(ctx, params):
    """An outbound job: tells the remote side about registrations whose status it has not seen."""
    ctx.log.info("since %s", ctx.since.isoformat() if ctx.since else "the beginning")
    for batch in ctx.store.iter_registrations(**registration_filters(ctx, params)):  # a retry narrows it
        seen = {r.registration_code: r.status_label for r in batch}
        changed = ctx.ledger.changed(seen)
        for code in seen:
            ctx.record(code, "updated" if code in changed else "unchanged")
        ctx.ledger.put(changed)
        ctx.checkpoint.save(None)


#: what the sample "remote system" received: (job params' activity, event id)
SENT: list[tuple[str, str]] = []
#: what on_event does next: None = send; an exception instance = raise it
BEHAVIOUR: dict[str, object] = {"next": None}


class ActivityParams(Schema):
    activity = fields.String(load_default="Registered", metadata={"label": "Activity"})
    status_filter = fields.List(fields.String(), load_default=None, metadata={"label": "Statuses"})


def send_activity(ctx, params, event):
    failure = BEHAVIOUR["next"]
    if failure is not None:
        raise failure
    SENT.append((params["activity"], event["id"]))
    return f"act-{len(SENT)}"


def activity_sent(ctx, params, event):
    return BEHAVIOUR.get("verify", any(e == event["id"] for _, e in SENT))


@hookimpl
def register_applications(register):
    register(Application(
        name="sample", label="Sample", connection_schema=SampleConnection,
        default_mappings=(
            MappingDefault("inbound", "profile.email", "email", transform="lowercase", is_match_key=True, required=True),
            MappingDefault("inbound", "profile.first_name", "first"),
            MappingDefault("inbound", "profile.last_name", "last", update_policy="only_if_blank"),
        )))


@hookimpl
def register_job_types(register):
    register(JobType(key="sample.import_people", label="Import Sample People", application="sample", scope="event",
                     params_schema=ImportPeopleParams, run=import_people,
                     event_choices={"attendee_type_code": "attendee_types", "status_label": "registration_statuses"}))
    register(JobType(key="sample.notify", label="Notify Sample", application="sample", scope="event",
                     params_schema=NotifyParams, run=notify))
    register(JobType(key="sample.activity", label="Sample Activity upon Status Change", application="sample",
                     scope="event", params_schema=ActivityParams, run=lambda ctx, params: None,
                     triggers=("registration.status_changed",), on_event=send_activity, verify=activity_sent))
