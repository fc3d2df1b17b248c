"""Trigger Marketo Campaign (spec §8.2, §3).

Requests a trigger campaign ("Campaign is Requested", source Web Service API) for the leads of
the event's registrations, 100 leads a call, with the same My Tokens for all. The campaign is
checked first, so a batch, inactive or unknown campaign fails the run before anything is sent.
Lead ids come from the profiles, else from a lookup by email (kept on the profile); a
registration without a lead is skipped: Create or Update Leads in Marketo makes them.

Each registration's ledger entry (campaign and status) commits with the checkpoint after its
chunk, so a recurring run requests only new registrations and changed statuses, and a committed
chunk is never requested twice. The window is the one chunk in flight: if the run dies after
Marketo accepted the request but before the commit (or Marketo's answer is lost, which the
client never replays), that chunk is requested again by the next attempt — at least once, never
more than once for anything committed.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, validate

from connectors import EventInfo, JobContext, JobFailed, JobType, RegistrationView

from ..client import MarketoClient
from ..errors import MarketoError
from .common import client_for_run, marketo_errors
from .outbound import (
    FILTER_CHOICES, RegistrationFilterParams, chunked, lead_id_of, link_lead_ids, registration_filters, registration_key,
)

KEY = "marketo.trigger_campaign"
TRIGGER_CHUNK = 100  # leads per Request Campaign call
LOOKUP_CHUNK = 300   # emails per Get Leads call
MAX_TOKENS = 100
PLACEHOLDER = re.compile(r"\{\{\s*event\.(\w+)\s*\}\}")
EVENT_VALUES = ("name", "code", "start_date", "end_date", "timezone")
DEFAULT_TOKENS = {"{{my.EventName}}": "{{event.name}}", "{{my.EventCode}}": "{{event.code}}",
                  "{{my.EventStartDate}}": "{{event.start_date}}"}


def token_name(name: str) -> str:
    """Marketo's form of a My Token name: ``EventName``, ``my.EventName`` -> ``{{my.EventName}}``."""
    inner = name.strip()
    if inner.startswith("{{") and inner.endswith("}}"):
        inner = inner[2:-2].strip()
    return "{{" + (inner if inner.startswith("my.") else f"my.{inner}") + "}}"


class TokensField(fields.List):
    """My Tokens as ``{name: template}``. Also takes ``name=template`` lines, which is what the
    generated form's text area gives, and stores them that way."""

    def __init__(self, **kwargs: Any):
        super().__init__(fields.String(), **kwargs)

    def _deserialize(self, value: Any, attr, data, **kwargs) -> dict[str, str]:
        if isinstance(value, Mapping):
            pairs = [(str(k), "" if v is None else str(v)) for k, v in value.items()]
        else:
            lines = value.splitlines() if isinstance(value, str) else value
            if not isinstance(lines, list) or not all(isinstance(line, str) and "=" in line for line in lines):
                raise ValidationError("Give My Tokens as name=template, one per line (e.g. my.EventName={{event.name}}).")
            pairs = [(n, t.strip()) for n, _, t in (line.partition("=") for line in lines if line.strip())]
        if any(not n.strip() for n, _ in pairs):
            raise ValidationError("A My Token needs a name.")
        tokens = {token_name(n): t for n, t in pairs}
        if len(tokens) > MAX_TOKENS:
            raise ValidationError(f"Marketo takes at most {MAX_TOKENS} tokens per request, not {len(tokens)}.")
        unknown = sorted({p for t in tokens.values() for p in PLACEHOLDER.findall(t) if p not in EVENT_VALUES})
        if unknown:
            raise ValidationError(f"Unknown placeholder(s) {', '.join('event.' + p for p in unknown)}; use "
                                  f"{', '.join('{{event.' + p + '}}' for p in EVENT_VALUES)}.")
        return tokens

    def _serialize(self, value: Any, attr, obj, **kwargs) -> list[str] | None:
        return None if value is None else [f"{name}={template}" for name, template in value.items()]


class TriggerCampaignParams(RegistrationFilterParams):
    campaign_id = fields.Integer(required=True, validate=validate.Range(min=1), metadata={
        "label": "Campaign id", "order": 1,
        "description": "Marketo id of an active trigger campaign with a 'Campaign is Requested' (Web Service API) trigger"})
    only_changed = fields.Boolean(load_default=True, metadata={
        "label": "Only new or changed registrations", "order": 2,
        "description": "Skip registrations this job already requested the campaign for with the same status"})
    tokens = TokensField(load_default=None, allow_none=True, metadata={
        "label": "My Tokens", "order": 3,
        "description": "name=template per line, e.g. my.EventName={{event.name}}; placeholders: {{event.name}}, "
                       "{{event.code}}, {{event.start_date}}, {{event.end_date}}, {{event.timezone}} "
                       "(empty: my.EventName, my.EventCode and my.EventStartDate)"})


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    client = client_for_run(ctx)
    filters = registration_filters(ctx, params)
    tokens = render_tokens(params["tokens"] or DEFAULT_TOKENS, ctx.store.event)
    with marketo_errors("Campaign requests sent so far are kept and will not be sent again."):
        campaign = check_campaign(client, params["campaign_id"])
        ctx.log.info("requesting campaign %r (id %s) with %s tokens", campaign.get("name"), campaign["id"], len(tokens))
        _Requests(ctx, client, params, tokens).send(filters)


def render_tokens(templates: dict[str, str], event: EventInfo | None) -> dict[str, str]:
    values = _event_values(event)
    return {name: PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template) for name, template in templates.items()}


def _event_values(event: EventInfo | None) -> dict[str, str]:
    if event is None:
        return {}
    return {"name": event.name, "code": event.code, "timezone": event.timezone,
            "start_date": _local_date(event.start_date, event.timezone),
            "end_date": _local_date(event.end_date, event.timezone)}


def _local_date(moment: datetime | None, tz: str) -> str:
    """The event's own calendar date (an event starting 07:00 UTC in Tokyo starts on the Tokyo date)."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(ZoneInfo(tz)).date().isoformat()


def check_campaign(client: MarketoClient, campaign_id: int) -> dict[str, Any]:
    """The campaign, if a job may request it: an active trigger campaign that is requestable."""
    try:
        campaign = client.get_campaign(campaign_id)
    except MarketoError as exc:
        if exc.code in ("1013", "610"):
            raise JobFailed(f"Marketo has no campaign with id {campaign_id}.", code="campaign_not_found") from exc
        raise
    name = f"Campaign {campaign.get('name', campaign_id)!r} (id {campaign_id})"
    if campaign.get("type") != "trigger":
        raise JobFailed(f"{name} is a {campaign.get('type', 'non-trigger')} campaign; only trigger campaigns can be "
                        "requested.", code="not_trigger_campaign")
    if not campaign.get("active", campaign.get("isActive")):
        raise JobFailed(f"{name} is not active: activate it in Marketo first.", code="campaign_inactive")
    if not _requestable(client, campaign):
        raise JobFailed(f"{name} has no 'Campaign is Requested' trigger with source 'Web Service API'.",
                        code="campaign_not_requestable")
    return campaign


def _requestable(client: MarketoClient, campaign: dict[str, Any]) -> bool:
    """The asset API says it outright; the REST record does not, but ``isTriggerable=true``
    lists exactly the active requestable campaigns."""
    if "isRequestable" in campaign:
        return bool(campaign["isRequestable"])
    return any(c["id"] == campaign["id"] for c in client.get_campaigns(name=campaign["name"], triggerable=True))


class _Requests:
    """Walks the registrations in position order and requests the campaign in chunks of leads,
    committing records, ledger and position after each chunk."""

    def __init__(self, ctx: JobContext, client: MarketoClient, params: dict[str, Any], tokens: dict[str, str]):
        self.ctx, self.client, self.params, self.tokens = ctx, client, params, tokens
        state = ctx.checkpoint.load() or {}
        self.position, self.requested = state.get("after", 0), state.get("requested", 0)
        same_run = state.get("run_id") == ctx.run_id
        self.skip_upto = self.position if same_run or not params["only_changed"] else 0
        self.chunk: dict[int, RegistrationView] = {}  # lead id -> its registration
        self.requested_by: dict[int, str] = {}              # lead id -> registration code, this run
        self.ledger: dict[str, str] = {}
        self.done = self.unchanged = 0

    def fingerprint(self, view: RegistrationView) -> str:
        return f"campaign {self.params['campaign_id']}: {view.status_label}"

    def send(self, filters: dict[str, Any]) -> None:
        ctx = self.ctx
        batches = ctx.store.iter_registrations(**filters, after=self.skip_upto, batch_size=LOOKUP_CHUNK)
        for batch in batches:
            prints = {v.registration_code: self.fingerprint(v) for v in batch}
            fresh = ctx.ledger.changed(prints) if self.params["only_changed"] else prints
            leads = self._lead_ids([v for v in batch if v.registration_code in fresh])
            for view in batch:
                self.done, self.position = self.done + 1, max(self.position, view.position)
                if view.registration_code not in fresh:
                    self.unchanged += 1
                elif self._add(view, leads[view.registration_code]) and len(self.chunk) == TRIGGER_CHUNK:
                    self._flush()
                    if ctx.cancelled():
                        ctx.log.info("cancelled after %s leads", self.requested)
                        return
        self._flush()
        if self.unchanged:
            ctx.log.info("%s registrations already requested with the same status", self.unchanged)
        ctx.log.info("campaign requested for %s leads", self.requested)

    def _add(self, view: RegistrationView, lead: int | tuple[str, str]) -> bool:
        """Put the registration's lead in the chunk, or record why not; True if it was added."""
        key = registration_key(view)
        if isinstance(lead, tuple):
            self.ctx.record(key, "skipped", *lead, stage="lookup")
            return False
        if lead in self.chunk or lead in self.requested_by:
            other = self.requested_by.get(lead) or self.chunk[lead].registration_code
            self.ctx.record(key, "skipped", "duplicate_lead", f"lead {lead} is requested once, for registration {other}",
                            stage="trigger")
            self.ledger[view.registration_code] = self.fingerprint(view)  # handled: not again next run
            return False
        self.chunk[lead] = view
        return True

    def _flush(self) -> None:
        """Request the chunk (if any), record it, and commit records, ledger and position."""
        if self.chunk:
            self.client.trigger_campaign(self.params["campaign_id"], list(self.chunk), tokens=self.tokens)
            for lead, view in self.chunk.items():
                self.ctx.record(registration_key(view), "created", stage="trigger")  # a campaign request
                self.ledger[view.registration_code] = self.fingerprint(view)
                self.requested_by[lead] = view.registration_code
            self.requested += len(self.chunk)
            self.chunk = {}
        self.ctx.ledger.put(self.ledger)
        self.ledger = {}
        self.ctx.progress(self.done)
        self.ctx.checkpoint.save({"run_id": self.ctx.run_id, "after": self.position, "requested": self.requested})

    def _lead_ids(self, views: list[RegistrationView]) -> dict[str, int | tuple[str, str]]:
        """Per registration code, its lead id or (code, message) why it has none. Ids found by
        email are kept on the profiles, so the next run needs no lookup."""
        found: dict[str, int | tuple[str, str]] = {}
        need = []
        for view in views:
            lead = lead_id_of(view)
            if lead is not None:
                found[view.registration_code] = lead
            elif not (view.profile.get("email") or "").strip():
                found[view.registration_code] = ("no_lead", "no Marketo lead id and no email to find one by: "
                                                            "run Create or Update Leads in Marketo first")
            else:
                need.append(view)
        by_email: dict[str, list[int]] = {}
        emails = sorted({v.profile["email"].strip().lower() for v in need})
        for part in chunked(emails, LOOKUP_CHUNK):
            for lead in self.client.get_leads("email", part, ["id", "email"]):
                by_email.setdefault((lead.get("email") or "").lower(), []).append(lead["id"])
        links = {}
        for view in need:
            email = view.profile["email"].strip().lower()
            matches = by_email.get(email, [])
            if len(matches) == 1:
                found[view.registration_code] = matches[0]
                links[registration_key(view)] = (view, matches[0])
            elif matches:
                found[view.registration_code] = ("multiple_leads", f"{len(matches)} Marketo leads have email {email} "
                                                 f"(ids {', '.join(map(str, matches))}): merge them in Marketo")
            else:
                found[view.registration_code] = ("no_lead", f"no Marketo lead has email {email}: "
                                                            "run Create or Update Leads in Marketo first")
        for key, result in link_lead_ids(self.ctx, links).items():
            self.ctx.log.warning("%s: lead id not kept on the profile: %s", key, result.message)
        return found


TRIGGER_CAMPAIGN = JobType(
    key=KEY,
    label="Trigger Marketo Campaign",
    application="marketo",
    scope="event",
    params_schema=TriggerCampaignParams,
    run=run,
    description="Requests a Marketo trigger campaign for the leads of the event's registrations, with the event's "
                "details as My Tokens; recurring runs request only new registrations and changed statuses.",
    event_choices=FILTER_CHOICES,
)
