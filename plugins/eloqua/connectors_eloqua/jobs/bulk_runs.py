"""How the Bulk-driven jobs (contact imports, list updates) talk about their definitions and
syncs: a name per run that tells an Eloqua user who made the definition, a sync that may be
resumed instead of started twice, clean-up that never fails a run, and how an Eloqua that keeps
throttling or a sync that outlasts the deadline end the run."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from connectors import JobContext, JobFailed, QuotaExhausted

from ..client import EloquaClient
from ..errors import BulkSyncTimeout, EloquaError, EloquaRateLimited
from ..rest import term

#: export data and definitions are kept this long (P14D at most): a run resumed days later
#: (after Eloqua throttled it) still finds its export; left-behind definitions go by themselves
RETENTION = "P3D"
MAX_NAME = 100


def definition_name(ctx: JobContext, what: str) -> str:
    """``Certain TEST26 import run 42``: unique per run and step, so a create whose answer was
    lost is found by its name (``BulkApi.create_definition``) and never confused with another."""
    where = ctx.store.event.code if ctx.store.event else ctx.store.account_code
    return f"Certain {where} {what} run {ctx.run_id}"[:MAX_NAME]


def resume_or_start_sync(client: EloquaClient, definition_uri: str) -> dict[str, Any]:
    """The sync of a definition an earlier attempt created (it may have started its sync and died
    before saving it: a second sync on the same definition conflicts), else a new one."""
    theirs = [s for s in client.bulk_items("syncs", {"q": term("syncedInstanceUri", definition_uri)})
              if s.get("syncedInstanceUri") == definition_uri]
    if theirs:
        return max(theirs, key=lambda s: int(str(s["uri"]).rsplit("/", 1)[-1]))
    return client.start_sync(definition_uri)


def wait_for(client: EloquaClient, sync_uri: str) -> dict[str, Any]:
    """The finished sync; a sync still running at the client's deadline ends the run."""
    with sync_deadline(client):
        return client.wait_for_sync(sync_uri)


@contextmanager
def sync_deadline(client: EloquaClient) -> Iterator[None]:
    """A sync still running at the client's polling deadline ends the run as ``sync_timeout``."""
    try:
        yield
    except BulkSyncTimeout as exc:
        raise JobFailed(f"Eloqua's sync {exc.sync_uri} was still {exc.sync_status} after "
                        f"{client.poll.deadline / 3600:g} h; Eloqua may be overloaded: run the job again later.",
                        code="sync_timeout") from exc


def forget(client: EloquaClient, definition_uri: str | None) -> None:
    """Delete a definition (and the data kept with it); a failure only leaves clutter, which
    ``autoDeleteDuration`` removes."""
    if definition_uri:
        try:
            client.delete_definition(definition_uri)
        except EloquaError:
            pass


@contextmanager
def throttling_resumes(done_so_far: str) -> Iterator[None]:
    """Eloqua still answering 429 after the client's retries ends the run ``quota_exhausted``:
    the job's next run goes on from this run's checkpoint instead of starting over."""
    try:
        yield
    except EloquaRateLimited as exc:
        raise QuotaExhausted(f"Eloqua kept refusing calls as too many ({exc.message}). {done_so_far} "
                             "The next run of this job goes on from there.", code="429") from exc
