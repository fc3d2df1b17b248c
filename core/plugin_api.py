"""What a plugin gives the core: applications and job types, plain frozen dataclasses."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

from marshmallow import Schema

if TYPE_CHECKING:  # pragma: no cover
    from .jobs.context import JobContext

Scope = Literal["event", "account"]


@dataclass(frozen=True)
class RemoteField:
    """A field of the target application, as the mapping editor lists it."""

    name: str
    label: str
    data_type: str = "string"
    read_only: bool = False


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


@dataclass(frozen=True)
class MappingDefault:
    """A field mapping a plugin proposes for a new configuration (and the demo seeds)."""

    direction: str
    certain_field: str
    remote_field: str
    transform: str = "none"
    update_policy: str = "overwrite"
    is_match_key: bool = False
    required: bool = False


@dataclass(frozen=True)
class Application:
    """A target application such as Marketo.

    ``connection_schema`` is a marshmallow schema; a field whose ``metadata`` has
    ``secret=True`` is stored encrypted and never shown back. ``sandbox`` starts the plugin's
    local stand-in for the real API (used by the demo): ``sandbox(port)`` returns an object with
    ``url``, ``connection`` (settings that reach it) and ``stop()``.

    ``check(connection)`` and ``describe_fields(connection)`` may take a keyword ``state``: the
    core then passes the configuration's ``ConnectionState``, so a call that rotates a
    credential (a single-use OAuth refresh token) keeps the new one where the jobs find it.
    """

    name: str
    label: str
    connection_schema: type[Schema]
    describe_fields: Callable[[dict[str, Any]], list[RemoteField]] | None = None
    check: Callable[[dict[str, Any]], CheckResult] | None = None
    default_mappings: tuple[MappingDefault, ...] = ()
    sandbox: Callable[..., Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class JobType:
    """A job users can submit. ``run(ctx, params)`` does the work; ``params`` is the schema's load."""

    key: str
    label: str
    application: str
    scope: Scope
    params_schema: type[Schema]
    run: Callable[["JobContext", dict[str, Any]], None]
    description: str = ""
    triggers: tuple[str, ...] = ()
    #: ``on_event(ctx, params, event) -> remote id | None`` for each matching status-change event
    on_event: Callable[..., Any] | None = None
    #: ``verify(ctx, params, event) -> bool | None``: did an interrupted delivery happen? (None: cannot tell)
    verify: Callable[..., Any] | None = None
    #: parameter fields whose choices come from the event (filled in by forms, checked on submit)
    event_choices: dict[str, str] = field(default_factory=dict)
    #: ``validate(ctx, params) -> str | None``: check the parameters against the target (its asset
    #: types, campaigns …) on a worker, as the job's first run, before it receives any event; raise
    #: ``JobFailed`` to disable the job with that message; other errors leave it pending (run it again)
    validate: Callable[..., Any] | None = None


def takes_state(fn: Callable[..., Any]) -> bool:
    """Whether a plugin callable accepts the ``state`` keyword (added later: older ones do not)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "state" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class JobFailed(Exception):
    """Raised by a handler to end its run as failed with a message users can act on."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class DeliveryUncertain(Exception):
    """Raised by ``on_event`` when the send failed in a way that leaves open whether the target
    carried it out (a timeout after sending, a 5xx): the core never sends it again blindly but
    asks the job type's ``verify`` — later, and again until it can tell."""


class QuotaExhausted(JobFailed):
    """Raised when the target's API budget is used up: the run ends as ``quota_exhausted`` with
    what it saved so far, and the job's next run resumes from its checkpoint."""
