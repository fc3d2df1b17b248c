"""``MarketoSandbox``: a local Marketo (identity + REST lead database) with a Python API for
tests — data, scripted faults, limits — and a journal of every request."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

from connectors.sandbox import Request, Response, SandboxApp, json_response

from . import envelope, lead_routes, list_routes
from .faults import PASS, DailyQuota, Fault, FaultQueue, SlidingWindow
from .identity import TokenIssuer
from .store import LeadStore


class MarketoSandbox(SandboxApp):
    journal_headers = ("Authorization", "Content-Type")
    max_target_length = 8 * 1024      # 414 beyond, like Marketo's gateway
    max_body_length = 1024 * 1024     # 413 beyond

    def __init__(self, client_id: str = "demo-client", client_secret: str = "demo-secret", *,
                 token_ttl: float = 3600, rate_limit: tuple[int, float] | None = (100, 20.0),
                 daily_quota: int | None = 50_000, accept_access_token_param: bool = False,
                 clock: Callable[[], float] = time.time, request_id_seed: int | None = None):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.RLock()
        self.store = LeadStore()
        self.tokens = TokenIssuer(token_ttl, clock)
        self.tokens.add_api_user(client_id, client_secret)
        self.faults = FaultQueue()
        self.identity_faults = FaultQueue()
        limit, seconds = rate_limit or (None, 20.0)
        self.rate_window = SlidingWindow(limit, seconds, clock)
        self.quota = DailyQuota(daily_quota)
        self.accept_access_token_param = accept_access_token_param
        self.latency = 0.0
        self.request_ids = envelope.RequestIds(request_id_seed)
        self.routes.add("GET", r"/identity/oauth/token", self._token)
        self.routes.add("POST", r"/identity/oauth/token", self._token)
        lead_routes.register(self)
        list_routes.register(self)

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

    # -- data --------------------------------------------------------------------------------------
    def add_lead(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            return dict(self.store.add_lead(fields))

    def add_leads(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(self.store.add_lead(dict(r))) for r in records]

    def get_lead(self, lead_id: int) -> dict[str, Any] | None:
        with self.lock:
            lead = self.store.leads.get(int(lead_id))
            return dict(lead) if lead else None

    @property
    def leads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(lead) for lead in self.store.leads.values()]

    def add_field(self, name: str, display_name: str, data_type: str = "string", **options: Any) -> None:
        with self.lock:
            self.store.add_field(name, display_name, data_type, **options)

    def add_list(self, name: str, lead_ids: Iterable[int] = (), **options: Any) -> dict[str, Any]:
        with self.lock:
            record = self.store.add_list(name, **options)
            self.store.add_members(record["id"], lead_ids)
            return dict(record)

    def add_to_list(self, list_id: int, lead_ids: Iterable[int]) -> None:
        with self.lock:
            self.store.add_members(list_id, lead_ids)

    def list_members(self, list_id: int) -> list[int]:
        with self.lock:
            return sorted(self.store.members.get(list_id, ()))

    def find_list(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.store.find_lists(names={name})
            return dict(found[0]) if found else None

    # -- tokens ---------------------------------------------------------------------------------------
    @property
    def token_ttl(self) -> float:
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.tokens.ttl = seconds

    def add_api_user(self, client_id: str, client_secret: str) -> None:
        self.tokens.add_api_user(client_id, client_secret)

    def expire_token(self, client_id: str | None = None) -> None:
        """Current tokens expire now: the next REST call with one gets 602."""
        self.tokens.expire(client_id)

    def revoke_token(self, client_id: str | None = None) -> None:
        """Current tokens become unknown: the next REST call with one gets 601."""
        self.tokens.revoke(client_id)

    # -- faults and limits --------------------------------------------------------------------------
    def fail_next(self, n: int = 1, code: str | int | None = None, *, http_status: int | None = None,
                  message: str | None = None, drop_connection: bool = False, after: int = 0) -> None:
        """The next ``n`` REST calls fail: with Marketo ``code`` in the envelope (606, 604, 611…),
        with an HTTP ``http_status`` and an HTML body (500, 502, 503), or by dropping the
        connection. ``after`` lets that many calls through first (to fail mid-run). Injected
        failures use no quota. Calls queue up: a second ``fail_next`` applies after the first."""
        if [code is not None, http_status is not None, drop_connection].count(True) != 1:
            raise ValueError("give exactly one of code, http_status, drop_connection")
        self.faults.add(PASS, after)
        self.faults.add(Fault(str(code) if code is not None else None, http_status, message, drop_connection), n)

    def fail_identity_next(self, n: int = 1, http_status: int = 503) -> None:
        self.identity_faults.add(Fault(http_status=http_status), n)

    @property
    def usage(self) -> int:
        """REST calls counted against today's quota."""
        return self.quota.used

    def reset_usage(self) -> None:
        self.quota.reset()
        self.rate_window.reset()

    # -- request pipeline ---------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        if request.path.startswith("/identity/"):
            fault = self.identity_faults.take()
            return self._faulted(fault) if fault else super().dispatch(request)
        if request.method == "POST" and request.arg("_method") == "GET":
            request = _as_get(request)
        fault = self.faults.take()
        if fault and not fault.pass_through:
            return self._faulted(fault)
        rejected = self.tokens.verify(self._bearer(request))
        if rejected:
            return self.fail(rejected)
        if not self.rate_window.admit():
            limit, seconds = self.rate_window.limit, int(self.rate_window.seconds)
            return self.fail("606", f"Max rate limit '{limit}' exceeded with in '{seconds}' secs")
        if not self.quota.admit():
            return self.fail("607")
        with self.lock:
            try:
                return super().dispatch(request)
            except envelope.ApiError as exc:
                return self.fail(exc.code, exc.message)

    def _bearer(self, request: Request) -> str | None:
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if self.accept_access_token_param:
            return request.values().get("access_token", [None])[0]
        return None

    def _faulted(self, fault: Fault) -> Response:
        if fault.drop_connection:
            return Response.aborted()
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

    def _token(self, request: Request) -> Response:
        values = request.values()
        if values.get("grant_type", [None])[0] != "client_credentials":
            return json_response({"error": "invalid_request", "error_description": "Missing or unsupported grant type"},
                                 400, codes=("invalid_request",))
        issued = self.tokens.issue(values.get("client_id", [None])[0], values.get("client_secret", [None])[0])
        if issued is None:
            return json_response({"error": "invalid_client", "error_description": "Bad client credentials"}, 401,
                                 codes=("invalid_client",))
        token, expires_in = issued
        return json_response({"access_token": token, "token_type": "bearer", "expires_in": expires_in,
                              "scope": f"{self.client_id}@sandbox.marketo.local"})


def _as_get(request: Request) -> Request:
    """``POST ?_method=GET`` with a form body is Marketo's way round 414: treat it as the GET."""
    params = {k: v for k, v in request.values().items() if k != "_method"}
    return Request("GET", request.path, params, dict(request.headers), b"", target=request.target)
