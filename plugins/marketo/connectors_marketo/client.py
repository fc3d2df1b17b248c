"""The one way this plugin talks to Marketo's REST API.

Every call goes through ``MarketoClient.request``: Bearer token from a shared cache (refreshed
before it runs out, and once more on 601/602), pacing under the shared rate limit, retries
with backoff for transient failures, and one classification of error codes (``errors.py``),
so job code only ever sees results, ``MarketoError`` or ``MarketoQuotaExhausted``.
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import requests

from .errors import (
    RATE_LIMIT_CODE, MarketoAuthError, MarketoError, MarketoQuotaExhausted, TransientError, classify,
)
from .retry import CallWindow, RetryPolicy
from .tokens import TOKEN_CACHE, AccessToken, TokenCache

#: (connect, read) seconds; Marketo's own server timeouts reach 300 s on some endpoints
DEFAULT_TIMEOUT = (10.0, 300.0)
#: Marketo refuses URIs over 8 KB (414); past this we send POST ?_method=GET with a form body
MAX_URL_LENGTH = 7000
MAX_BATCH_SIZE = 300


@dataclass(frozen=True)
class MarketoResponse:
    """A successful envelope, with Marketo's optional keys defaulted."""

    request_id: str | None
    result: list[Any]
    next_page_token: str | None = None
    more_result: bool = False
    warnings: list[Any] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page of records and the token for the next one (None on the last page): a caller
    saves the token as its checkpoint and passes it back to resume."""

    records: list[dict[str, Any]]
    next_page_token: str | None


def endpoints_for_munchkin(munchkin_id: str) -> tuple[str, str]:
    """The (REST, identity) base URLs of a subscription."""
    host = f"https://{munchkin_id.strip()}.mktorest.com"
    return f"{host}/rest", f"{host}/identity"


def join_url(base: str, path: str) -> str:
    """``base`` + ``path`` with exactly one slash between the parts (Adobe rejects ``//``)."""
    tail = re.sub(r"/{2,}", "/", path.lstrip("/"))
    return f"{base.rstrip('/')}/{tail}"


class MarketoClient:
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
        max_calls_per_window: int | None = 50,
        max_url_length: int = MAX_URL_LENGTH,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        token_cache: TokenCache = TOKEN_CACHE,
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
        self._token_key = (self.identity_endpoint, client_id)
        self._window = CallWindow(max_calls_per_window, 20.0, clock)

    @classmethod
    def from_connection(cls, connection: Mapping[str, Any], **options: Any) -> "MarketoClient":
        """A client from the plugin's connection settings (see ``connection.py``)."""
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
                body = _json_or_none(response)
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
    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None) -> MarketoResponse:
        """Call ``<rest_endpoint><path>`` and return the successful envelope, or raise."""
        url = join_url(self.rest_endpoint, path)
        attempt, replayed = 0, False
        while True:
            attempt += 1
            token = self.access_token()
            try:
                return self._attempt(method.upper(), url, params, json, token)
            except _TokenRejected as exc:
                if replayed:
                    raise MarketoError(exc.code, exc.message, exc.request_id) from exc
                self._tokens.invalidate(self._token_key, token)
                replayed, attempt = True, attempt - 1  # the replay is not a retry
            except TransientError as exc:
                if attempt >= self.retry.max_attempts:
                    if exc.code == RATE_LIMIT_CODE:
                        raise MarketoQuotaExhausted(exc.code, exc.message, exc.request_id) from exc
                    raise MarketoError(exc.code, exc.message, exc.request_id) from exc
                if exc.code == RATE_LIMIT_CODE:
                    self._sleep(self._window.rest_of_window() + self._rng.uniform(0, 1))
                else:
                    self._sleep(self.retry.delay(attempt, self._rng))

    def _attempt(self, method: str, url: str, params: Mapping[str, Any] | None, json: Any,
                 token: str) -> MarketoResponse:
        wait = self._window.wait_before_call()
        if wait:
            self._sleep(wait)
        self._window.record_call()
        try:
            response = self._send(method, url, params, json, {"Authorization": f"Bearer {token}"})
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError("connection", f"{type(exc).__name__}: {exc}") from exc
        body = _json_or_none(response)
        if response.status_code >= 500:
            raise TransientError(str(response.status_code), f"HTTP {response.status_code} from Marketo")
        if isinstance(body, dict) and "success" in body:
            return _envelope(body)
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

    # -- lead database: lists and leads -------------------------------------------------------------
    def describe_leads(self) -> list[dict[str, Any]]:
        """Lead fields: ``{id, displayName, dataType, length, rest{name, readOnly}, ...}``."""
        return self.request("GET", "/v1/leads/describe.json").result

    def get_lists(self, name: str | Iterable[str] | None = None, ids: Iterable[int] | None = None,
                  batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Static lists, optionally filtered by exact name(s) and/or ids, all pages."""
        params: dict[str, Any] = {"batchSize": _batch_size(batch_size)}
        if name is not None:
            params["name"] = name if isinstance(name, str) else ",".join(name)
        if ids is not None:
            params["id"] = ",".join(str(int(i)) for i in ids)
        return [record for page in self._pages("/v1/lists.json", params) for record in page.records]

    def get_list(self, list_id: int) -> dict[str, Any]:
        """One static list; ``MarketoError`` with code 1013 when there is no such list."""
        result = self.request("GET", f"/v1/lists/{int(list_id)}.json").result
        if not result:
            raise MarketoError("1013", f"static list {list_id} not found")
        return result[0]

    def iter_list_members(self, list_id: int, fields: Iterable[str], batch_size: int = MAX_BATCH_SIZE,
                          next_page_token: str | None = None) -> Iterator[Page]:
        """The members of a static list, page by page, starting after ``next_page_token``."""
        params = {"fields": ",".join(fields), "batchSize": _batch_size(batch_size)}
        return self._pages(f"/v1/lists/{int(list_id)}/leads.json", params, next_page_token)

    def get_leads(self, filter_type: str, filter_values: Iterable[Any], fields: Iterable[str] | None = None,
                  batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Leads whose ``filter_type`` field is one of ``filter_values`` (sent 300 at a time)."""
        values = [str(v) for v in filter_values]
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), MAX_BATCH_SIZE):
            params: dict[str, Any] = {"filterType": filter_type, "filterValues": ",".join(values[start:start + MAX_BATCH_SIZE]),
                                      "batchSize": _batch_size(batch_size)}
            if fields:
                params["fields"] = ",".join(fields)
            found.extend(r for page in self._pages("/v1/leads.json", params) for r in page.records)
        return found

    def _pages(self, path: str, params: dict[str, Any], next_page_token: str | None = None) -> Iterator[Page]:
        token = next_page_token
        while True:
            page_params = dict(params, nextPageToken=token) if token else params
            response = self.request("GET", path, params=page_params)
            token = response.next_page_token if response.result else None
            yield Page(list(response.result), token)
            if not token:
                return


class _TokenRejected(MarketoError):
    """601/602: the token was refused; refresh it and replay once, else give up with this."""


def _envelope(body: dict[str, Any]) -> MarketoResponse:
    request_id = body.get("requestId")
    if body.get("success"):
        return MarketoResponse(
            request_id=request_id, result=body.get("result", []) or [], next_page_token=body.get("nextPageToken") or None,
            more_result=bool(body.get("moreResult", False)), warnings=body.get("warnings", []) or [], raw=body,
        )
    errors = body.get("errors", []) or [{}]
    code = str(errors[0].get("code", "unknown"))
    message = str(errors[0].get("message", "request failed"))
    kind = classify(code)
    if kind == "token":
        raise _TokenRejected(code, message, request_id)
    if kind == "retry":
        raise TransientError(code, message, request_id)
    if kind == "quota":
        raise MarketoQuotaExhausted(code, message, request_id)
    raise MarketoError(code, message, request_id)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _batch_size(size: int) -> int:
    if not 1 <= int(size) <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH_SIZE}, not {size}")
    return int(size)
