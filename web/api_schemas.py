"""The JSON API's marshmallow schemas: what requests may carry and what answers hold.

The same classes load and check requests in the views and describe them in the OpenAPI
document (``api_docs``), so the document cannot drift from what the code accepts.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from connectors.jobs.problems import PROBLEM_OUTCOMES, SHOWS
from connectors.models import JOB_STATES, OUTCOMES, RUN_STATUSES

from .converters import MAX_ID
from .joblist import SORTS as JOB_SORTS
from .reglist import DIRECTIONS, SORTS

Str, Int, Bool, Dict, List, Nested = fields.String, fields.Integer, fields.Boolean, fields.Dict, fields.List, fields.Nested
DateTime = fields.DateTime


class StrictSchema(Schema):
    """Unknown fields are refused, naming them: a typo must not be silently ignored."""

    class Meta:
        ordered = True


class Answer(Schema):
    """What the API answers: every field is always there (``null`` when it has no value), so the
    document marks them all required and a check of the answers against it catches one left out."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.required = True


class ErrorSchema(Schema):
    errors = Dict(keys=Str(), values=List(Str()), required=True,
                  metadata={"description": "Each bad field (or `authorization`, `role`, `resource`, `body`) "
                                           "with its reasons."})


#: a row id, or a page number: what the databases' ``INTEGER`` holds
ID_RANGE = validate.Range(min=1, max=MAX_ID)
#: the longest filter text a query takes (codes, names, keys)
SHORT_TEXT = validate.Length(max=200)


class PageQuery(StrictSchema):
    page = Int(load_default=1, validate=ID_RANGE)
    per_page = Int(load_default=50, validate=validate.Range(min=1, max=200))


class PageInfo(Answer):
    page = Int()
    per_page = Int()
    total = Int()


# ---- jobs and runs ------------------------------------------------------------------------------

class JobQuery(PageQuery):
    event = Str(validate=SHORT_TEXT, metadata={"description": "Only this event's jobs (its code)."})
    scope = Str(validate=validate.OneOf(("event", "account")),
                metadata={"description": "`account`: account-level jobs only (administrators)."})
    state = Str(validate=validate.OneOf(JOB_STATES))
    application = Str(validate=SHORT_TEXT, metadata={"description": "An application's name, e.g. `marketo`."})
    job_type = Str(validate=SHORT_TEXT,
                   metadata={"description": "A job type key, e.g. `marketo.import_leads_as_registrations`."})
    sort = Str(load_default="submitted", validate=validate.OneOf(list(JOB_SORTS)),
               metadata={"description": "`submitted` (default), `name`, `job_type` (by its label), `status` or "
                                        "`next_run` (jobs without one last)."})
    direction = Str(load_default="desc", validate=validate.OneOf(list(DIRECTIONS)))


class RunSummary(Answer):
    id = Int()
    status = Str(metadata={"enum": list(RUN_STATUSES)})
    trigger = Str()
    counters = Dict(keys=Str(), values=Int())
    queued_at = DateTime()
    started_at = DateTime(allow_none=True)
    ended_at = DateTime(allow_none=True)


class JobOut(Answer):
    id = Int()
    name = Str()
    event = Str(allow_none=True, metadata={"description": "The event's code; null for an account-level job."})
    application = Str()
    job_type = Str()
    state = Str(metadata={"enum": list(JOB_STATES)})
    enabled = Bool()
    params = Dict()
    schedule = Str(metadata={"description": "The schedule in words."})
    next_run_at = DateTime(allow_none=True)
    next_runs = List(DateTime(), metadata={"description": "The next five fire times (UTC); empty when disabled or over."})
    validation_state = Str(allow_none=True)
    submitted_at = DateTime(allow_none=True)
    submitted_via = Str(allow_none=True)
    last_run = Nested(RunSummary, allow_none=True)


class JobList(Answer):
    jobs = List(Nested(JobOut))
    page = Nested(PageInfo)


class JobSubmit(StrictSchema):
    job_type = Str(required=True, validate=validate.Length(min=1, max=200),
                   metadata={"description": "A job type key, e.g. `marketo.import_leads_as_registrations`."})
    event = Str(load_default=None, allow_none=True, validate=SHORT_TEXT,
                metadata={"description": "The event's code; leave out for an account-level job (administrators)."})
    params = Dict(load_default=dict, metadata={"description": "The job type's parameters (checked by its schema)."})
    schedule = Dict(load_default=None, allow_none=True,
                    metadata={"description": 'Default `{"mode": "once"}` (run now). Also `{"mode": "once", "run_at": ...}` '
                                             'or a recurring one, as in `JobPatch`.'})
    name = Str(load_default=None, allow_none=True, validate=validate.Length(max=200))
    notify_email = fields.Email(load_default=None, allow_none=True)


class JobPatch(StrictSchema):
    schedule = Dict(required=True, metadata={"description": (
        'The new schedule: `{"mode": "once", "run_at": ...}` (in the future) or `{"mode": "recurring", '
        '"frequency": "minutes"|"hourly"|"daily"|"weekly"|"monthly", "interval": N, "start_at": ..., "end_at": ..., '
        '"timezone": ..., "days_of_week": ["MO", ...], "time_of_day": "HH:MM", "day_of_month": N, "max_runs": N}`. '
        "Naive times are read in `timezone` (default: the event's). Bad fields come back as `schedule.<field>`.")})


class JobCreated(Answer):
    job = Nested(JobOut)
    run = Nested(RunSummary, allow_none=True, metadata={"description": "The queued run when it runs now."})


class ClearJobs(StrictSchema):
    event = Str(load_default=None, allow_none=True, validate=SHORT_TEXT,
                metadata={"description": "The event whose ended jobs go; leave out for account-level jobs (administrators)."})


class Removed(Answer):
    removed = Int()


class RunQuery(PageQuery):
    job_id = Int(validate=ID_RANGE)
    event = Str(validate=SHORT_TEXT)
    status = Str(validate=validate.OneOf(RUN_STATUSES))


class Progress(Answer):
    done = Int()
    total = Int(allow_none=True)
    percent = fields.Float(allow_none=True)
    per_second = fields.Float(allow_none=True)
    seconds_left = fields.Float(allow_none=True)


class LogEntry(Answer):
    at = Str()
    level = Str()
    message = Str()


class RunOut(RunSummary):
    job_id = Int()
    attempt = Int()
    cancel_requested = Bool()
    error = Str(allow_none=True)
    progress = Nested(Progress)
    problems = Int(metadata={"description": "Open problems: failed and skipped records not dismissed."})
    retry_of = Int(allow_none=True, metadata={"description": "For a retry run: the run whose problems it retries."})
    retry_keys = List(Str(), allow_none=True, metadata={
        "description": "For a retry run: the record keys it processes, and only those."})
    log = List(Nested(LogEntry))


class RunList(Answer):
    runs = List(Nested(RunSummary))
    page = Nested(PageInfo)


class CancelOut(Answer):
    cancelled = Bool(metadata={"description": "False when the run had already ended."})
    run = Nested(RunOut)


class RecordQuery(PageQuery):
    outcome = Str(load_default="", validate=validate.OneOf(PROBLEM_OUTCOMES),
                  metadata={"description": "`failed` or `skipped`; default both."})
    stage = Str(load_default="", validate=validate.Length(max=16))
    code = Str(load_default="", validate=validate.Length(max=32))
    text = Str(load_default="", validate=validate.Length(max=200),
               metadata={"description": "In the record key or the message, any case."})
    show = Str(load_default="open", validate=validate.OneOf(SHOWS),
               metadata={"description": "`open` (default: not dismissed), `dismissed` or `all`."})


class RecordOut(Answer):
    id = Int()
    record_key = Str()
    outcome = Str(metadata={"enum": list(OUTCOMES)})
    stage = Str(allow_none=True)
    code = Str(allow_none=True)
    message = Str(allow_none=True)
    created_at = DateTime()
    dismissed_at = DateTime(allow_none=True)
    dismissed_by = Str(allow_none=True)


class RecordList(Answer):
    records = List(Nested(RecordOut))
    page = Nested(PageInfo)


# ---- plugin configurations ----------------------------------------------------------------------

class TaskOut(Answer):
    id = Int()
    kind = Str()
    status = Str()
    active = Bool()
    ok = Bool(allow_none=True)
    message = Str(allow_none=True)
    requested_at = DateTime(allow_none=True)
    ended_at = DateTime(allow_none=True)


class LastTest(Answer):
    passed = Bool()
    message = Str()
    tested_at = DateTime(allow_none=True)


class PluginConfigOut(Answer):
    id = Int()
    application = Str()
    name = Str()
    enabled = Bool()
    installed = Bool()
    connection = Dict(metadata={"description": "The plain settings; secrets are never returned."})
    secrets = Dict(keys=Str(), values=Str(), metadata={"description": "Each secret's state: `set` or `not set`."})
    last_test = Nested(LastTest, allow_none=True)


class PluginConfigList(Answer):
    plugin_configs = List(Nested(PluginConfigOut))


class ConnectionUpdate(StrictSchema):
    connection = Dict(load_default=dict, metadata={
        "description": "The settings by their input key. A secret left out or empty keeps its stored value "
                       "(secrets are write-only)."})
    clear = List(Str(), load_default=list, metadata={"description": "Optional secrets to remove."})
    name = Str(load_default=None, allow_none=True, validate=validate.Length(max=200))
    enabled = Bool(load_default=None, allow_none=True)


class TasksOut(Answer):
    check = Nested(TaskOut, allow_none=True)
    describe_fields = Nested(TaskOut, allow_none=True)
    last_test = Nested(LastTest, allow_none=True)


class FieldMappingRow(Schema):
    direction = Str(required=True)
    certain_field = Str(required=True)
    remote_field = Str(required=True)
    transform = Str(load_default=None, allow_none=True)
    update_policy = Str(load_default=None, allow_none=True)
    is_match_key = Bool(load_default=False)
    required = Bool(load_default=False)


class FieldMappings(StrictSchema):
    mappings = List(Nested(FieldMappingRow), required=True)


class StatusMappingRow(Schema):
    direction = Str(required=True)
    certain_status = Str(required=True)
    remote_status = Str(required=True)
    event_id = Int(load_default=None, allow_none=True, validate=ID_RANGE)


class StatusMappings(StrictSchema):
    status_mappings = List(Nested(StatusMappingRow), required=True)


# ---- events and registrations -------------------------------------------------------------------

class EventOut(Answer):
    code = Str()
    name = Str()
    timezone = Str()


class EventList(Answer):
    events = List(Nested(EventOut))


class RegistrationQuery(StrictSchema):
    q = Str(load_default="", validate=validate.Length(max=200),
            metadata={"description": "E-mail, name or registration code; part of it is enough."})
    status = Str(load_default="", validate=SHORT_TEXT)
    sort = Str(load_default="code", validate=validate.OneOf(list(SORTS)))
    direction = Str(load_default="asc", validate=validate.OneOf(list(DIRECTIONS)))
    page = Int(load_default=1, validate=ID_RANGE)


class RegistrationOut(Answer):
    id = Int()
    registration_code = Str()
    status = Str()
    attendee_type = Str(allow_none=True)
    email = Str(allow_none=True)
    first_name = Str(allow_none=True)
    last_name = Str(allow_none=True)
    external_ids = Dict()
    date_modified = DateTime(allow_none=True)


class RegistrationList(Answer):
    registrations = List(Nested(RegistrationOut))
    page = Nested(PageInfo)


class SubjectOut(Answer):
    code = Str()
    name = Str()
    status = Str(allow_none=True)


class RegistrationDetail(RegistrationOut):
    sessions = List(Nested(SubjectOut))
    agenda_items = List(Nested(SubjectOut))


class StatusChange(StrictSchema):
    status = Str(required=True, validate=validate.Length(min=1, max=100))


class StatusChangeOut(Answer):
    changed = Bool(metadata={"description": "False when it already had that status: nothing was recorded."})
    previous = Str(allow_none=True)
    current = Str()
    event_id = Str(allow_none=True, metadata={"description": "The recorded status-change event."})


# ---- tokens -------------------------------------------------------------------------------------

class IngestResult(Answer):
    accepted = Int()
    unchanged = Int()
    stale = Int()
    duplicate = Int()
    rejected = Int()
    results = List(Dict())
