"""``MarketoSandbox``: a local Marketo (identity, REST lead database, campaigns, custom objects,
usage stats) with a Python API for tests — data (``data_api.py``), scripted faults and limits
(``fault_api.py``) — and a journal of every request.

A REST request passes, in order: the concurrency gate (615), latency, scripted or random
faults, the token (601/602), the rate window (606), the daily quota (607), then its route.
"""
from __future__ import annotations

import re
import threading
import time
from typing import Any, Callable

from connectors.sandbox import Request, Response, SandboxApp

from . import campaign_routes, customobject_routes, envelope, identity, lead_routes, lead_write_routes, list_routes
from . import bulk_routes, stats_routes
from .campaigns import CampaignStore
from .customobjects import CustomObjectStore
from .data_api import DataApi
from .fault_api import FaultApi
from .faults import STATS_PATH, Fault, FaultQueue, RandomFaults
from .identity import TokenIssuer
from .lead_write_routes import LeadWrite
from .limits import DailyQuota, InFlight, SlidingWindow
from .store import LeadStore

#: every module that adds endpoints, each with ``register(sandbox)``; a new area adds itself here
ROUTE_MODULES = [
    identity,
    lead_routes,
    lead_write_routes,
    list_routes,
    campaign_routes,
    customobject_routes,
    stats_routes,
    bulk_routes,
]


class MarketoSandbox(DataApi, FaultApi, SandboxApp):
    journal_headers = ("Authorization", "Content-Type")
    max_target_length = 8 * 1024      # 414 beyond, like Marketo's gateway
    max_body_length = 1024 * 1024     # 413 beyond

    def __init__(self, client_id: str = "demo-client", client_secret: str = "demo-secret", *,
                 token_ttl: float = 3600, rate_limit: tuple[int, float] | None = (100, 20.0),
                 max_concurrency: int | None = 10, daily_quota: int | None = 50_000,
                 accept_access_token_param: bool = False, custom_objects_enabled: bool = True,
                 clock: Callable[[], float] = time.time, request_id_seed: int | None = None):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.lock = threading.RLock()
        # data
        self.store = LeadStore()
        self.partitions: set[str] = {"Default"}
        self.lead_partitions: dict[int, str] = {}
        self.campaigns = CampaignStore()
        self.custom_objects = CustomObjectStore(self._lead_has)
        self.custom_objects_enabled = custom_objects_enabled
        self.lead_writes: list[LeadWrite] = []
        #: > 0: Sync Leads looks records up, waits this long unlocked, then writes (see lead_sync.py)
        self.upsert_race_window = 0.0
        # identity, limits, faults
        self.tokens = TokenIssuer(token_ttl, clock)
        self.tokens.add_api_user(client_id, client_secret)
        limit, seconds = rate_limit or (None, 20.0)
        self.rate_window = SlidingWindow(limit, seconds, clock)
        self.in_flight = InFlight(max_concurrency)
        self.quota = DailyQuota(daily_quota, clock)
        self.faults = FaultQueue()
        self.identity_faults = FaultQueue()
        self.random_faults = RandomFaults()
        self.accept_access_token_param = accept_access_token_param
        self.latency = 0.0
        self.path_latency: list[tuple[str, float]] = []
        self.request_ids = envelope.RequestIds(request_id_seed)
        self._hangs = threading.Event()
        self._local = threading.local()
        for module in ROUTE_MODULES:
            module.register(self)

    # -- where it runs ---------------------------------------------------------------------------
    @property
    def rest_endpoint(self) -> str:
        return f"{self.url}/rest"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}/identity"

    @property
    def connection(self) -> dict[str, Any]:
        """Connection settings of the Marketo plugin that reach this sandbox."""
        return {"rest_endpoint": self.rest_endpoint, "identity_endpoint": self.identity_endpoint,
                "client_id": self.client_id, "client_secret": self.client_secret}

    def stop(self) -> None:
        self.release_hangs()
        super().stop()

    def release_hangs(self) -> None:
        """Calls hanging now give up (their connection is dropped)."""
        hangs, self._hangs = self._hangs, threading.Event()
        hangs.set()

    # -- request pipeline ---------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        self._local.arrived = time.monotonic()
        if request.path.startswith("/identity/"):
            self._delay(request.path)
            fault = self.identity_faults.take(request.path)
            return self._faulted(fault) if fault else super().dispatch(request)
        if not self.in_flight.enter():
            return self.fail("615")
        try:
            return self._rest(request)
        finally:
            self.in_flight.leave()

    def _rest(self, request: Request) -> Response:
        self._delay(request.path)
        if request.method == "POST" and request.values().get("_method", [None])[0] == "GET":
            request = _as_get(request)
        fault = self.faults.take(request.path) or self.random_faults.draw(request.path)
        if fault and not fault.pass_through and not fault.truncate:
            return self._faulted(fault)
        user, rejected = self.tokens.check(self._bearer(request))
        if rejected:
            return self.fail(rejected)
        if not self.rate_window.admit():
            return self.fail("606", self.rate_window.message)
        if not STATS_PATH.fullmatch(request.path) and not self.quota.admit(user):
            return self.fail("607")
        with self.lock:
            try:
                response = super().dispatch(request)
            except envelope.ApiError as exc:
                response = self.fail(exc.code, exc.message)
        return envelope.truncated(response) if fault and fault.truncate else response

    def _delay(self, path: str) -> None:
        seconds = self.latency
        for pattern, value in self.path_latency:
            if re.fullmatch(pattern, path):
                seconds = value
        if seconds:
            time.sleep(seconds)

    def _bearer(self, request: Request) -> str | None:
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if self.accept_access_token_param:
            return request.values().get("access_token", [None])[0]
        return None

    def _faulted(self, fault: Fault) -> Response:
        if fault.hang is not None:
            self._hangs.wait(fault.hang)
            return Response(status=0, abort=True, codes=("hang",))
        if fault.drop_connection:
            return Response(status=0, abort=True, codes=("reset",))
        if fault.http_status == 401:
            return identity.bad_credentials()
        if fault.http_status is not None:
            return envelope.html_error(fault.http_status)
        return self.fail(fault.code or "611", fault.message)

    def not_found(self, request: Request) -> Response:
        return self.fail("610")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        return self.fail("605", f"Request method '{request.method}' not supported")

    def server_error(self, request: Request, exc: Exception) -> Response:
        return self.fail("611", f"System error: {exc!r}")

    # -- helpers for route handlers ------------------------------------------------------------------------
    def ok(self, result: list[Any], next_page_token: str | None = None, **extra: Any) -> Response:
        return envelope.ok(self.request_ids.new(), result, next_page_token, **extra)

    def fail(self, code: str | int, message: str | None = None) -> Response:
        return envelope.failure(self.request_ids.new(), code, message)

    def arrived_at(self) -> float:
        """When the request this thread serves arrived (``time.monotonic()``)."""
        return getattr(self._local, "arrived", time.monotonic())

    def unlocked_sleep(self, seconds: float) -> None:
        """From a route handler (which holds the lock once): let other requests run meanwhile."""
        self.lock.release()
        try:
            time.sleep(seconds)
        finally:
            self.lock.acquire()

    def _lead_has(self, field: str, value: str) -> bool:
        return bool(self.store.find_leads(field, [value]))


def _as_get(request: Request) -> Request:
    """``POST ?_method=GET`` with a form body is Marketo's way round 414: treat it as the GET.
    ``_method`` may come in the URL or in the form body (Adobe: "add the _method=GET parameter,
    and place a query string in the request body"; marketorestpython sends it in the body). A
    JSON body stays with the request: compound-key custom object queries and list membership
    checks send their ``input`` that way (spec §2.5, Adobe's OpenAPI)."""
    params = {k: v for k, v in request.values().items() if k != "_method"}
    body = request.body if request.content_type == "application/json" else b""
    return Request("GET", request.path, params, dict(request.headers), body, target=request.target)
