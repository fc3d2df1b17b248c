"""Test plugin "testapp": an import that pages through synthetic attendees, slowly on demand.

Each page upserts profiles and registrations, sleeps ``delay`` seconds (so a test can kill a
worker in the middle of a page, with store work not yet committed) and saves a checkpoint; the
handler logs the page it starts from, so a test can tell a resumed run from a restarted one.
"""
from __future__ import annotations

import math
import time

from marshmallow import Schema, fields

import connectors

APPLICATION = "testapp"
IMPORT = "testapp.slow_import"


class ConnectionSchema(Schema):
    api_url = fields.String(load_default="http://testapp.invalid", metadata={"description": "Base URL"})


class ImportParams(Schema):
    total = fields.Integer(load_default=12, metadata={"label": "Records to import"})
    page_size = fields.Integer(load_default=4, metadata={"label": "Records per page"})
    delay = fields.Float(load_default=0.0, metadata={"label": "Seconds to wait in each page"})


def email(i: int) -> str:
    return f"attendee{i:04d}@example.com"


def expected_emails(total: int) -> list[str]:
    return [email(i) for i in range(total)]


def run_import(ctx, params) -> None:
    total, size, delay = params["total"], params["page_size"], params["delay"]
    start = (ctx.checkpoint.load() or {}).get("page", 0)
    ctx.log.info("starting from page %s", start)
    for page in range(start, math.ceil(total / size)):
        if ctx.cancelled():
            return
        numbers = range(page * size, min((page + 1) * size, total))
        profiles = ctx.store.upsert_profiles(
            [{"key": str(i), "fields": {"email": email(i), "first_name": f"Attendee {i}"},
              "external_ids": {"testapp_id": str(i)}} for i in numbers], match_on="email")
        registrations = ctx.store.upsert_registrations(
            [{"key": p.key, "profile_id": p.id, "attendee_type_code": "Attendee", "status_label": "New",
              "source": "connector"} for p in profiles if p.id is not None])
        for result in registrations:
            ctx.record(result.key, result.outcome, result.code, result.message)
        ctx.progress(numbers.stop, total)
        time.sleep(delay)  # a kill lands here: this page's store work is not committed yet
        ctx.checkpoint.save({"page": page + 1})


@connectors.hookimpl
def register_applications(register):
    register(connectors.Application(name=APPLICATION, label="Test App", connection_schema=ConnectionSchema))


@connectors.hookimpl
def register_job_types(register):
    register(connectors.JobType(key=IMPORT, label="Slow paged import", application=APPLICATION, scope="event",
                                params_schema=ImportParams, run=run_import))
