"""The two kinds of host (spec §7): the login host (``/id``, OAuth) and the pod hosts
(``secure.pNN.eloqua.com``: REST and Bulk). Each is a ``SandboxApp`` on its own port; all share
the sandbox's data, faults and journal.

A pod request passes, in order: latency, ``X-HTTP-Method-Override``, a scripted or random
fault, the caller's credentials (Basic or Bearer) and the site's current pod (a site that moved
answers 401 on its old pod), then its route; ``X-HTTP-Status-Code-Override`` applies last.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.sandbox import JournalEntry, Request, Response, Routes, SandboxApp, json_response

from .faults import LOGIN, POD, Fault
from .responses import ApiError, plain, unauthorized

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

WRITE_TYPES = ("application/json", "text/csv")


@dataclass(frozen=True)
class EloquaEntry(JournalEntry):
    """A journal entry that also says which host served it, how the caller authenticated and a
    hash of the body (so tests can spot the same create sent twice)."""

    host: str = ""
    auth: str = "none"
    body_hash: str | None = None


class Host(SandboxApp):
    kind = POD

    def __init__(self, sandbox: "EloquaSandbox", name: str, routes: Routes):
        super().__init__()
        self.sandbox = sandbox
        self.name = name
        self.routes = routes
        self.journal = sandbox.journal

    def handle(self, request: Request) -> Response:
        with self.sandbox.in_flight:
            return super().handle(request)

    def dispatch(self, request: Request) -> Response:
        sandbox = self.sandbox
        sandbox.delay(request.path)
        override = request.header("X-HTTP-Method-Override")
        if override:
            request.method = override.upper()
        fault = sandbox.faults.take(request.path, self.kind)
        if fault is not None and fault.pass_through:
            fault = None
        if fault is None and self.kind == POD:
            fault = sandbox.random_faults.draw(request.path)
        if fault is not None and not fault.after_effect:
            return sandbox.faulted(fault, request)
        response = self.serve(request)
        if fault is not None:
            return sandbox.faulted(fault, request)  # carried out; the answer is lost
        return _status_override(request, response)

    def serve(self, request: Request) -> Response:
        try:
            return super().dispatch(request)
        except ApiError as exc:
            return exc.response

    def not_found(self, request: Request) -> Response:
        return plain(404)

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        return plain(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})

    def server_error(self, request: Request, exc: Exception) -> Response:
        return plain(500, f"There was an internal server error. ({exc!r})")

    def _entry(self, request: Request, response: Response) -> JournalEntry:
        base = super()._entry(request, response)
        scheme = (request.header("Authorization") or "").partition(" ")[0].lower() or "none"
        digest = hashlib.sha256(request.body).hexdigest()[:16] if request.body else None
        return EloquaEntry(**base.__dict__, host=self.name, auth=scheme, body_hash=digest)


class LoginHost(Host):
    kind = LOGIN


class PodHost(Host):
    """One pod. It serves the site only while the site lives on it."""

    def serve(self, request: Request) -> Response:
        sandbox = self.sandbox
        if request.method in ("POST", "PUT") and request.body and request.content_type not in WRITE_TYPES:
            return plain(415)
        user, _scheme = sandbox.identity.caller(request.header("Authorization"))
        if user is None or sandbox.pod != self.name:
            return unauthorized()
        with sandbox.lock:
            sandbox.local.user = user
            try:
                return super().serve(request)
            finally:
                sandbox.local.user = None


def _status_override(request: Request, response: Response) -> Response:
    wanted = request.header("X-HTTP-Status-Code-Override")
    if not wanted or not wanted.isdigit():
        return response
    headers = {**response.headers, "X-HTTP-Original-Status-Code": str(response.status)}
    return Response(int(wanted), headers, response.body, response.codes, response.abort, response.data)


class InFlight:
    """Requests being served (a hanging one included), so tests can wait for quiet."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def __enter__(self) -> None:
        with self._cond:
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self.count -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.count == 0, timeout)


class Hangs:
    """Calls told to hang wait here until their time is up or the sandbox stops."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)

    def release(self) -> None:
        event, self._event = self._event, threading.Event()
        event.set()


def fault_response(fault: Fault, hangs: Hangs) -> Response:
    """What a fault answers (the hang happens here, in the serving thread)."""
    if fault.hang is not None:
        hangs.wait(fault.hang)
        return Response(status=0, abort=True, codes=("hang",))
    if fault.drop:
        return Response(status=0, abort=True, codes=("reset",))
    if fault.not_authenticated:
        return json_response("Not authenticated.", fault.status or 200, codes=("not-authenticated",))
    headers: dict[str, Any] = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    return plain(fault.status or 503, fault.text, headers=headers, codes=(str(fault.status or 503), "fault"))
