"""``EloquaSandbox``: a local Eloqua made of a login host and pod hosts (spec §7), each served on
its own loopback port, sharing one site's data, one clock, one fault queue and one journal.

A client must do what it does against the real Eloqua: ask the login host's ``/id`` where the
site lives and call that pod. ``move_site()`` moves the site to another pod: the old pod then
answers 401 and ``/id`` names the new one. The Python API for data is in ``data_api.py``, for
faults and limits in ``fault_api.py``.
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable, Sequence

from connectors.sandbox import Journal, Request, Response, Routes, SandboxServer

from . import activity_routes, bulk_meta_routes, bulk_routes, contact_routes, customobject_routes, list_routes
from . import login_routes, sync_routes
from .activities import ActivityStore
from .bulk_sync import BulkEngine
from .contacts import ContactStore
from .customobjects import CustomObjectStore
from .data_api import DataApi
from .fault_api import FaultApi
from .faults import Fault, FaultQueue, RandomFaults
from .hosts import Hangs, InFlight, LoginHost, PodHost, fault_response
from .identity import ACCESS_TTL, REFRESH_TTL, Identity
from .lists import ListStore
from .segments import SegmentStore

#: every module that adds pod endpoints, each with ``register(sandbox, routes)``
POD_ROUTE_MODULES = [contact_routes, list_routes, customobject_routes, activity_routes, bulk_meta_routes,
                     bulk_routes, sync_routes]
PODS = ("p01", "p02")


class EloquaSandbox(DataApi, FaultApi):
    def __init__(self, site: str = "DemoCompany", user: str = "demo.user", password: str = "demo-password", *,
                 client_id: str = "demo-client", client_secret: str = "demo-secret", pods: Sequence[str] = PODS,
                 access_ttl: float = ACCESS_TTL, refresh_ttl: float = REFRESH_TTL, revoke_on_refresh: bool = True,
                 clock: Callable[[], float] = time.time):
        self.lock = threading.RLock()
        self.journal = Journal()
        self.local = threading.local()
        self._clock, self._offset = clock, 0.0
        self.identity = Identity(site, clock=self.now, access_ttl=access_ttl, refresh_ttl=refresh_ttl,
                                 revoke_on_refresh=revoke_on_refresh)
        self.default_user = self.identity.add_user(user, password, first_name="Demo", last_name="User",
                                                   email=f"{user.split('@')[0]}@example.com")
        self.client_id, self.client_secret = client_id, client_secret
        self.identity.add_app(client_id, client_secret)
        self.contacts = ContactStore(self.now)
        self.lists = ListStore(self.now)
        self.segments = SegmentStore(self.now)
        self.custom_objects = CustomObjectStore(self.now)
        self.activities = ActivityStore(self.now, lambda cid: cid in self.contacts.contacts)
        self.bulk = BulkEngine(self)
        self.faults = FaultQueue()
        self.random_faults = RandomFaults()
        self.hangs = Hangs()
        self.in_flight = InFlight()
        self.latency = 0.0
        self.path_latency: list[tuple[str, float]] = []
        self.id_refusal_status = 200  # what /id answers with "Not authenticated." (a fault may make it 401)
        self.pod = pods[0]
        pod_routes = Routes()
        for module in POD_ROUTE_MODULES:
            module.register(self, pod_routes)
        self.login_host = LoginHost(self, "login", login_routes.routes(self))
        self.pods = {name: PodHost(self, name, pod_routes) for name in pods}
        self._servers: dict[str, SandboxServer] = {}

    # -- where it runs ---------------------------------------------------------------------------
    def start(self, port: int = 0, host: str = "127.0.0.1", pod_ports: dict[str, int] | None = None) -> "EloquaSandbox":
        """Serve the login host on ``port`` (0: a free one) and each pod on its own port."""
        if not self._servers:
            self._servers["login"] = SandboxServer(self.login_host, host, port).start()
            for name, app in self.pods.items():
                self._servers[name] = SandboxServer(app, host, (pod_ports or {}).get(name, 0)).start()
        return self

    def stop(self) -> None:
        self.hangs.release()
        stopping = [threading.Thread(target=server.stop) for server in self._servers.values()]
        for thread in stopping:  # each waits for its serve loop to notice: do it side by side
            thread.start()
        for thread in stopping:
            thread.join()
        self._servers.clear()

    def __enter__(self) -> "EloquaSandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The login host: what a connection's ``login_url`` points at."""
        return self._server("login").url

    def pod_url(self, name: str | None = None) -> str:
        return self._server(name or self.pod).url

    def _server(self, name: str) -> SandboxServer:
        if name not in self._servers:
            raise RuntimeError("the sandbox is not started")
        return self._servers[name]

    @property
    def connection(self) -> dict[str, Any]:
        """Basic-auth connection settings of the Eloqua plugin that reach this sandbox."""
        return {"site": self.identity.site_name, "username": self.default_user.username,
                "password": self.default_user.password, "login_url": self.url}

    def oauth_connection(self, username: str | None = None) -> dict[str, Any]:
        """OAuth settings with a fresh refresh token (as if the user had authorised the app)."""
        issued = self.issue_tokens(username or self.default_user.username)
        return {"site": self.identity.site_name, "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": issued["refresh_token"], "login_url": self.url}

    # -- time ------------------------------------------------------------------------------------------
    def now(self) -> float:
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock (token expiry, sync timing, data retention) forward."""
        with self.lock:
            self._offset += seconds

    # -- helpers for hosts and routes ------------------------------------------------------------------
    def current_username(self) -> str:
        user = getattr(self.local, "user", None)
        return (user or self.default_user).username

    def delay(self, path: str) -> None:
        seconds = self.latency
        for pattern, value in self.path_latency:
            if re.fullmatch(pattern, path, re.IGNORECASE):
                seconds = value
        if seconds:
            time.sleep(seconds)

    def faulted(self, fault: Fault, request: Request) -> Response:
        return fault_response(fault, self.hangs)

    def quiesce(self, timeout: float = 5.0) -> None:
        """Let hanging calls go and wait until no request is being served: every call made so far
        is then in the journal (a hanging call is journaled when it ends)."""
        self.hangs.release()
        if not self.in_flight.wait_idle(timeout):
            raise TimeoutError(f"{self.in_flight.count} sandbox requests still running after {timeout} s")

    def calls(self, method: str | None = None, path: str | None = None, host: str | None = None, **criteria: Any):
        """Journal entries, optionally of one host ("login", "p01" …) only."""
        if host is not None:
            where = criteria.pop("where", None)
            criteria["where"] = lambda e: e.host == host and (where is None or where(e))
        return self.journal.filter(method, path, **criteria)
