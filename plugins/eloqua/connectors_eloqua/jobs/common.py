"""What every Eloqua job shares: how it gets a client and how Eloqua's verdicts end a run."""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator

from connectors import JobContext, JobFailed

from ..client import EloquaClient
from ..connection import client_for
from ..errors import EloquaAuthError, EloquaError
from ..tokens import StateTokenStore

#: the external-id system under which a profile keeps its Eloqua contact id
CONTACT_ID_SYSTEM = "eloqua_contact_id"
#: ``Registration.source`` of registrations these jobs create
SOURCE = "connector:eloqua"
#: extra ``EloquaClient`` options for job runs; tests put a fake ``sleep`` and clock here
RUN_CLIENT_OPTIONS: dict[str, Any] = {}
#: one jitter source for every client: seeding a new ``random.Random`` reads os.urandom, per delivery
_JITTER = random.Random()


def client_for_run(ctx: JobContext) -> EloquaClient:
    """A client on the run's HTTP session (its User-Agent and timeouts) whose OAuth token chain
    lives in the plugin configuration (``ctx.connection_state``), shared by every worker."""
    state = getattr(ctx, "connection_state", None)
    return client_for(ctx.connection, session=ctx.http(), token_store=StateTokenStore(state) if state else None,
                      **{"rng": _JITTER, **RUN_CLIENT_OPTIONS})


@contextmanager
def eloqua_errors(done_so_far: str) -> Iterator[None]:
    """Eloqua's refusals as run endings users can act on; ``done_so_far`` says what is kept."""
    try:
        yield
    except EloquaAuthError as exc:
        raise JobFailed(f"Eloqua refused the connection ({exc.message}): fix the Eloqua plugin configuration. "
                        f"{done_so_far}", code="auth") from exc
    except EloquaError as exc:
        status = f"HTTP {exc.status}: " if exc.status else ""
        raise JobFailed(f"Eloqua error ({status}{exc.message}). {done_so_far}", code=str(exc.status or "eloqua")) from exc
