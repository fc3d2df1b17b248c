"""What every Marketo job shares: how it gets a client, how it names leads and links them, and
how the inbound jobs read a static list page by page into profiles."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from connectors import JobContext, JobFailed, QuotaExhausted, UpsertResult

from ..client import MarketoClient
from ..connection import client_for
from ..errors import MarketoError, MarketoQuotaExhausted

#: the external-id system under which a profile keeps its Marketo lead id
LEAD_ID_SYSTEM = "marketo_lead_id"
#: ``Registration.source`` of registrations these jobs create
SOURCE = "connector:marketo"
#: extra ``MarketoClient`` options for job runs; tests put a fake ``sleep`` here
RUN_CLIENT_OPTIONS: dict[str, Any] = {}
MATCH_RULES = ("email", "external_key", "none")


def client_for_run(ctx: JobContext) -> MarketoClient:
    """A client on the run's HTTP session (its User-Agent and timeouts)."""
    return client_for(ctx.connection, session=ctx.http(), **RUN_CLIENT_OPTIONS)


def lead_key(lead: dict[str, Any]) -> str:
    """How a lead is named in the run's records: its id, and its email when it has one."""
    email = lead.get("email")
    return f"lead {lead['id']} <{email}>" if email else f"lead {lead['id']}"


# -- static lists into profiles (the inbound jobs) ------------------------------------------------
def resolve_list(client: MarketoClient, params: dict[str, Any]) -> dict[str, Any]:
    """``{id, name}`` of the list named by ``static_list_id`` or ``static_list_name`` (exactly one match)."""
    if params.get("static_list_id") is not None:
        try:
            found = client.get_list(params["static_list_id"])
        except MarketoError as exc:
            if exc.code == "1013":
                raise JobFailed(f"Marketo has no static list with id {params['static_list_id']}.", code="1013") from exc
            raise
        return {"id": found["id"], "name": found.get("name")}
    name = params["static_list_name"]
    found = client.get_lists(name=name)
    if not found:
        raise JobFailed(f"Marketo has no static list named {name!r}.", code="list_not_found")
    if len(found) > 1:
        ids = ", ".join(str(r["id"]) for r in found)
        raise JobFailed(f"{len(found)} Marketo static lists are named {name!r} (ids {ids}); give the list id instead.",
                        code="ambiguous_list")
    return {"id": found[0]["id"], "name": found[0]["name"]}


def fields_to_read(ctx: JobContext, client: MarketoClient) -> list[str]:
    """The mapped Marketo fields plus id and email, checked against the lead schema first so a
    wrong mapping fails the run at once instead of on every lead."""
    mapped = ctx.mappings.remote_fields("inbound")
    known = {f["rest"]["name"] for f in client.describe_leads() if f.get("rest")}
    unknown = [name for name in mapped if name not in known]
    if unknown:
        raise JobFailed(f"The field mapping names Marketo lead field(s) that do not exist: {', '.join(unknown)}.",
                        code="unknown_field")
    return list(dict.fromkeys(["id", "email", *mapped]))


def import_pages(ctx: JobContext, client: MarketoClient, params: dict[str, Any], static_list: dict[str, Any],
                 wanted: list[str], state: dict[str, Any],
                 import_page: Callable[[JobContext, list[dict[str, Any]], dict[str, Any]], None]) -> None:
    """Read the list's members a page at a time into ``import_page``; each page commits with its
    checkpoint (the next page token), so a run that dies resumes after the last saved page."""
    done, limit = state.get("done", 0), params.get("max_records")
    if not state:
        ctx.log.info("importing static list %r (id %s)", static_list["name"], static_list["id"])
    else:
        ctx.log.info("resuming static list %r after %s leads", static_list["name"], done)
    pages = client.iter_list_members(static_list["id"], wanted, batch_size=params["page_size"],
                                     next_page_token=state.get("next_page_token"))
    for page in pages:
        leads = page.records[: limit - done] if limit else page.records
        import_page(ctx, leads, params)
        done += len(leads)
        finished = not page.next_page_token or bool(limit and done >= limit)
        ctx.progress(done, limit)
        ctx.checkpoint.save({"list": static_list, "next_page_token": page.next_page_token, "done": done,
                             "finished": finished})
        if finished:
            ctx.log.info("imported %s leads from %r", done, static_list["name"])
            return
        if ctx.cancelled():
            ctx.log.info("cancelled after %s leads", done)
            return


def upsert_lead_profiles(ctx: JobContext, leads: list[dict[str, Any]], match_on: str) -> list[UpsertResult]:
    """Profiles for a page of leads, matched by Marketo lead id first, then ``match_on``. Leads
    that cannot become a profile are recorded here; the others' results are returned."""
    rows = []
    for lead in leads:
        missing = ctx.mappings.missing_required("inbound", ctx.mappings.apply("inbound", lead))
        if missing:
            ctx.record(lead_key(lead), "skipped", "missing_required",
                       f"Marketo lead {lead['id']} has no value for {', '.join(missing)}", stage="map")
            continue
        rows.append({"key": lead_key(lead), "fields": ctx.mappings.apply("inbound", lead, prefix="profile"),
                     "external_ids": {LEAD_ID_SYSTEM: str(lead["id"])}})
    done = []
    for result in ctx.store.upsert_profiles(rows, match_on=match_on, policies=ctx.mappings.policies("inbound")):
        if result.outcome in ("skipped", "failed"):
            ctx.record(result.key, result.outcome, result.code, result.message, stage="profile")
        else:
            done.append(result)
    return done


@contextmanager
def marketo_errors(done_so_far: str) -> Iterator[None]:
    """Marketo's verdicts as run endings: an exhausted budget ends the run ``quota_exhausted``
    (the next run resumes from the checkpoint), any other Marketo error fails it."""
    try:
        yield
    except MarketoQuotaExhausted as exc:
        raise QuotaExhausted(f"Marketo's API budget is used up ({exc.code}: {exc.message}). {done_so_far} "
                             "The next run of this job goes on from there.", code="quota_exhausted") from exc
    except MarketoError as exc:
        raise JobFailed(f"Marketo error {exc.code}: {exc.message}", code=exc.code) from exc
