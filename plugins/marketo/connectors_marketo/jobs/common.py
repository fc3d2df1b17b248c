"""What every Marketo job shares: how it gets a client, and how it names leads and links them."""
from __future__ import annotations

from typing import Any

from connectors import JobContext

from ..client import MarketoClient
from ..connection import client_for

#: the external-id system under which a profile keeps its Marketo lead id
LEAD_ID_SYSTEM = "marketo_lead_id"
#: ``Registration.source`` of registrations these jobs create
SOURCE = "connector:marketo"
#: extra ``MarketoClient`` options for job runs; tests put a fake ``sleep`` here
RUN_CLIENT_OPTIONS: dict[str, Any] = {}


def client_for_run(ctx: JobContext) -> MarketoClient:
    """A client on the run's HTTP session (its User-Agent and timeouts)."""
    return client_for(ctx.connection, session=ctx.http(), **RUN_CLIENT_OPTIONS)


def lead_key(lead: dict[str, Any]) -> str:
    """How a lead is named in the run's records: its id, and its email when it has one."""
    email = lead.get("email")
    return f"lead {lead['id']} <{email}>" if email else f"lead {lead['id']}"
