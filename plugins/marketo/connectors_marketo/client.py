"""The one way this plugin talks to Marketo's REST API.

Every call goes through ``MarketoClient.request``: the daily-budget guard (``budget.py``), a
Bearer token from a shared cache (refreshed before it runs out, and once more on 601/602; kept
per plugin configuration and exact credentials, ``tokens.py``),
pacing under the limiter shared by every client of the instance (``ratelimit.py``), retries
with backoff for transient failures, and one classification of error codes (``errors.py``),
so job code only ever sees results, ``MarketoError`` or ``MarketoQuotaExhausted``. The calls
themselves live in ``leads.py``, ``campaigns.py`` and ``customobjects.py``.
"""
from __future__ import annotations

import random
import re
import time
from collections import Counter
from typing import Any, Callable, Iterable, Iterator, Mapping

import requests
from urllib3.exceptions import NewConnectionError

from connectors import CredentialsKey, credentials_key

from .budget import DEFAULT_CHECK_EVERY, DEFAULT_DAILY_BUDGET, DailyBudget
from .campaigns import CampaignsApi
from .customobjects import CustomObjectsApi
from .errors import (
    DAILY_QUOTA_CODE, RATE_LIMIT_CODE, MarketoAuthError, MarketoError, MarketoQuotaExhausted, TokenRejected,
    TransientError,
)
from .leads import MAX_BATCH_SIZE, LeadsApi, check_batch_size
from .ratelimit import RateLimiter, RateLimits, shared_limiter
from .responses import MarketoResponse, Page, json_or_none, parse_envelope
from .retry import RetryPolicy
from .tokens import TOKEN_CACHE, AccessToken, TokenCache, TokenKey

__all__ = ["MarketoClient", "MarketoResponse", "Page", "MAX_BATCH_SIZE", "endpoints_for_munchkin", "join_url"]

#: (connect, read) seconds; Marketo's own server timeouts reach 300 s on some endpoints
DEFAULT_TIMEOUT = (10.0, 300.0)
#: Marketo refuses URIs over 8 KB (414); past this we send POST ?_method=GET with a form body
MAX_URL_LENGTH = 7000
#: connection settings that tune the limiter (see ``connection.py``)
LIMIT_SETTINGS = ("calls_per_window", "window_seconds", "max_concurrency")
_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                   requests.exceptions.ContentDecodingError)


def endpoints_for_munchkin(munchkin_id: str) -> tuple[str, str]:
    """The (REST, identity) base URLs of a subscription."""
    host = f"https://{munchkin_id.strip()}.mktorest.com"
    return f"{host}/rest", f"{host}/identity"


def join_url(base: str, path: str) -> str:
    """``base`` + ``path`` with exactly one slash between the parts (Adobe rejects ``//``)."""
    tail = re.sub(r"/{2,}", "/", path.lstrip("/"))
    return f"{base.rstrip('/')}/{tail}"


class MarketoClient(LeadsApi, CampaignsApi, CustomObjectsApi):
    """``calls_per_window`` / ``window_seconds`` / ``max_concurrency`` tune the limiter shared by
    all clients of the instance (or pass your own ``rate_limiter``); ``daily_budget`` turns on
    the budget guard (None: off). ``credentials`` names whose token this client may use (see
    ``tokens.py``): ``from_connection`` passes the connection's ``credentials_key``; a client
    built from a client id and secret alone gets a key from a digest of the endpoint, the id and
    the secret."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        rest_endpoint: str | None = None,
        identity_endpoint: str | None = None,
        munchkin_id: str | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        calls_per_window: int | None = 50,
        window_seconds: float = 20.0,
        max_concurrency: int | None = 2,
        rate_limiter: RateLimiter | None = None,
        daily_budget: int | None = None,
        budget_check_every: int = DEFAULT_CHECK_EVERY,
        max_url_length: int = MAX_URL_LENGTH,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        token_cache: TokenCache = TOKEN_CACHE,
        credentials: CredentialsKey | None = None,
    ):
        if not (rest_endpoint and identity_endpoint):
            if not munchkin_id:
                raise ValueError("give rest_endpoint and identity_endpoint, or munchkin_id")
            default_rest, default_identity = endpoints_for_munchkin(munchkin_id)
            rest_endpoint = rest_endpoint or default_rest
            identity_endpoint = identity_endpoint or default_identity
        self.rest_endpoint = rest_endpoint.rstrip("/")
        self.identity_endpoint = identity_endpoint.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry
        self.max_url_length = max_url_length
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._tokens = token_cache
        if credentials is None:
            credentials = credentials_key({"identity_endpoint": self.identity_endpoint, "client_id": client_id,
                                           "client_secret": client_secret})
        self._token_key = TokenKey(self.identity_endpoint, client_id, credentials)
        self.limiter = rate_limiter or shared_limiter(
            self.rest_endpoint, client_id, RateLimits(calls_per_window, window_seconds, max_concurrency), clock)
        self.budget = DailyBudget(daily_budget, self.usage_today, budget_check_every) if daily_budget else None

    @classmethod
    def from_connection(cls, connection: Mapping[str, Any], **options: Any) -> "MarketoClient":
        """A client from the plugin's connection settings (see ``connection.py``): its limits,
        and its daily budget (default 40,000 calls when the settings do not say)."""
        for key in LIMIT_SETTINGS:
            if connection.get(key) is not None:
                options.setdefault(key, connection[key])
        options.setdefault("daily_budget", connection.get("daily_budget", DEFAULT_DAILY_BUDGET))
        options.setdefault("credentials", credentials_key(connection))
        return cls(
            connection["client_id"], connection["client_secret"],
            rest_endpoint=connection.get("rest_endpoint"), identity_endpoint=connection.get("identity_endpoint"),
            munchkin_id=connection.get("munchkin_id"), **options,
        )

    # -- authentication ------------------------------------------------------------------------
    def access_token(self) -> str:
        """A usable token: the cached one, or a fresh one when less than a minute is left."""
        token = self._tokens.usable(self._token_key, self._clock())
        if token:
            return token.value
        with self._tokens.fetch_lock(self._token_key):
            token = self._tokens.usable(self._token_key, self._clock())  # another thread may have fetched
            if token is None:
                token = self._fetch_token()
                self._tokens.put(self._token_key, token)
            return token.value

    def _fetch_token(self) -> AccessToken:
        url = join_url(self.identity_endpoint, "/oauth/token")
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._client_secret}
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = self.session.post(url, data=form, timeout=self.timeout)
                if response.status_code >= 500:
                    raise TransientError(str(response.status_code), f"identity service answered HTTP {response.status_code}")
                body = json_or_none(response)
                if not isinstance(body, dict):
                    raise TransientError("invalid-body", "identity service answered without JSON")
            except (requests.ConnectionError, requests.Timeout, TransientError) as exc:
                if attempt == self.retry.max_attempts:
                    raise MarketoError(getattr(exc, "code", "connection"), f"identity service unreachable: {exc}") from exc
                self._sleep(self.retry.delay(attempt, self._rng))
                continue
            if response.status_code != 200 or "access_token" not in body:
                raise MarketoAuthError(
                    body.get("error", str(response.status_code)),
                    body.get("error_description", "the identity service refused the credentials"),
                )
            return AccessToken.issued(body["access_token"], float(body.get("expires_in", 0)), self._clock())
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the central request ---------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                idempotent: bool = True, budgeted: bool = True) -> MarketoResponse:
        """Call ``<rest_endpoint><path>`` and return the successful envelope, or raise.

        ``idempotent=False`` (e.g. requesting a campaign): not replayed after a failure that
        leaves open whether Marketo carried the call out. ``budgeted=False`` is for the budget
        guard's own usage reads."""
        url = join_url(self.rest_endpoint, path)
        attempt, replayed, seen = 0, False, Counter()
        while True:
            attempt += 1
            if budgeted and self.budget is not None:
                self.budget.before_call()
            token = self.access_token()
            try:
                return self._attempt(method.upper(), url, params, json, token)
            except TokenRejected as exc:
                if replayed:
                    raise MarketoError(exc.code, exc.message, exc.request_id) from exc
                self._tokens.invalidate(self._token_key, token)
                replayed, attempt = True, attempt - 1  # the replay is not a retry
            except MarketoQuotaExhausted as exc:
                if exc.code == DAILY_QUOTA_CODE and self.budget is not None:
                    self.budget.quota_reached(exc)
                raise
            except TransientError as exc:
                seen[exc.code] += 1
                if not idempotent and exc.maybe_executed:
                    raise MarketoError(exc.code, f"{exc.message}; not retried, Marketo may have carried it out",
                                       exc.request_id) from exc
                if self.retry.gives_up(attempt, exc.code, seen[exc.code]):
                    error = MarketoQuotaExhausted if exc.code == RATE_LIMIT_CODE else MarketoError
                    raise error(exc.code, exc.message, exc.request_id) from exc
                self._sleep(self._wait_after(exc, attempt))

    def _wait_after(self, exc: TransientError, attempt: int) -> float:
        if exc.code == RATE_LIMIT_CODE:
            # Over Marketo's window: wait until our oldest call has left it, and hold every other
            # client of this instance back as long (a safety net: the limiter should prevent it).
            wait = self.limiter.rest_of_window() + self._rng.uniform(0, 1)
            self.limiter.hold_off(wait)
            return wait
        return self.retry.delay(attempt, self._rng)

    def _attempt(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
                 token: str) -> MarketoResponse:
        headers = {"Authorization": f"Bearer {token}"}
        with self.limiter.slot(self._sleep):
            try:
                response = self._send(method, url, params, json, headers)
            except _NETWORK_ERRORS as exc:
                raise TransientError("connection", f"{type(exc).__name__}: {exc}", sent=not _never_sent(exc)) from exc
        body = json_or_none(response)
        if response.status_code >= 500:
            raise TransientError(str(response.status_code), f"HTTP {response.status_code} from Marketo")
        if isinstance(body, dict) and "success" in body:
            return parse_envelope(body)
        if response.status_code >= 400:
            raise MarketoError(str(response.status_code), response.text[:200] or f"HTTP {response.status_code}")
        raise TransientError("invalid-body", "Marketo answered without a JSON envelope")

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
              headers: dict[str, str]) -> requests.Response:
        if method == "GET" and params:
            prepared = requests.Request("GET", url, params=params).prepare()
            if len(prepared.url or "") > self.max_url_length:
                return self.session.post(url, params={"_method": "GET"}, data=params, headers=headers,
                                         timeout=self.timeout)
        return self.session.request(method, url, params=params, json=json, headers=headers, timeout=self.timeout)

    def send_raw(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, stream: bool = False,
                 **kwargs: Any) -> requests.Response:
        """One call whose answer is not an envelope (a bulk export file): the budget, the shared
        limiter and the Bearer token as for ``request``, but no retries and no parsing."""
        if self.budget is not None:
            self.budget.before_call()
        all_headers = {**(headers or {}), "Authorization": f"Bearer {self.access_token()}"}
        with self.limiter.slot(self._sleep):
            return self.session.request(method, url, headers=all_headers, stream=stream, timeout=self.timeout, **kwargs)

    def pages(self, path: str, params: dict[str, Any], next_page_token: str | None = None) -> Iterator[Page]:
        """Follow ``nextPageToken`` from ``next_page_token`` (None: the first page) to the end."""
        token = next_page_token
        while True:
            page_params = dict(params, nextPageToken=token) if token else params
            response = self.request("GET", path, params=page_params)
            token = response.next_page_token if response.result else None
            yield Page(list(response.result), token)
            if not token:
                return

    def filtered(self, path: str, filter_type: str, filter_values: Iterable[Any], fields: Iterable[str] | None = None,
                 batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Records of ``path`` whose ``filter_type`` is one of ``filter_values``, asked 300 values at a time."""
        values = [str(v) for v in filter_values]
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), MAX_BATCH_SIZE):
            params: dict[str, Any] = {"filterType": filter_type,
                                      "filterValues": ",".join(values[start:start + MAX_BATCH_SIZE]),
                                      "batchSize": check_batch_size(batch_size)}
            if fields:
                params["fields"] = ",".join(fields)
            found.extend(r for page in self.pages(path, params) for r in page.records)
        return found

    # -- usage ------------------------------------------------------------------------------------
    def usage_today(self) -> int:
        """API calls the whole subscription made today (Marketo's count, all integrations)."""
        result = self.request("GET", "/v1/stats/usage.json", budgeted=False).result
        return int(result[0].get("total", 0)) if result else 0


def _never_sent(exc: Exception) -> bool:
    """True when the connection could not even be made, so Marketo never saw the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
