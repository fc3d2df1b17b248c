"""The one way this plugin talks to Eloqua.

Every call goes through ``EloquaClient.request``: the site's base URL from ``/id`` (cached per
process, per plugin configuration and exact credentials: see ``auth.py``), the Authorization header (Basic, or a Bearer token kept fresh by ``OAuthAuth``),
transient failures retried by ``Transport``, and one recovery from 401 the way Oracle advises:
ask ``/id`` again — a new base means the site moved pods, so replay there; ``/id`` refusing the
token means it expired or was revoked, so refresh (OAuth) and replay; good credentials and the
same base mean the user lacks a permission, which no retry fixes. Then statuses become the
exceptions of ``errors.py``. The calls themselves live in ``contacts.py``, ``lists.py``,
``customobjects.py``, ``activities.py`` and ``bulk.py``.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable, Mapping

import requests

from connectors import credentials_key

from .activities import ActivitiesApi
from .auth import BasicAuth, OAuthAuth
from .bulk import BulkApi
from .contacts import ContactsApi
from .customobjects import CustomObjectsApi
from .discovery import IDENTITY_CACHE, LOGIN_URL, IdentityCache, IdentityKey, SiteIdentity, discover
from .errors import (
    EloquaAuthError, EloquaConflict, EloquaError, EloquaNotFound, EloquaPermissionError, EloquaValidationError,
)
from .lists import ListsApi
from .retry import PollPolicy, RetryPolicy
from .tokens import TokenSet, TokenStore, shared_memory_store
from .transport import DEFAULT_TIMEOUT, Transport

__all__ = ["EloquaClient", "LOGIN_URL"]
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class EloquaClient(ContactsApi, ListsApi, CustomObjectsApi, ActivitiesApi, BulkApi):
    def __init__(self, auth: BasicAuth | OAuthAuth, *, login_url: str = LOGIN_URL,
                 session: requests.Session | None = None, timeout: Any = DEFAULT_TIMEOUT,
                 retry: RetryPolicy = RetryPolicy(), poll: PollPolicy = PollPolicy(),
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, identity_cache: IdentityCache = IDENTITY_CACHE):
        self.auth = auth
        self.login_url = login_url.rstrip("/")
        self.transport = Transport(session, timeout=timeout, retry=retry, sleep=sleep, rng=rng)
        self.poll = poll
        self.sleep = sleep
        self.clock = clock
        self.rng = self.transport.rng
        self._identities = identity_cache
        self._identity_key = IdentityKey(self.login_url, auth.key, auth.credentials)
        self._lock = threading.Lock()
        self._started_syncs: set[str] = set()  # syncs this client started (see BulkApi.start_sync)

    @classmethod
    def from_connection(cls, connection: Mapping[str, Any], *,
                        token_store: TokenStore | Callable[[TokenSet], None] | None = None,
                        **options: Any) -> "EloquaClient":
        """A client from the plugin's connection settings (``connection.py``): OAuth when a client
        id is given (refresh token, or user name and password for the password grant), Basic
        otherwise. Without a ``token_store`` the rotated tokens live in this process only, in a
        chain shared by the clients of exactly these settings. Every process-level cache the
        client uses is keyed by the connection's ``credentials_key`` (see ``auth.py``)."""
        login_url = (connection.get("login_url") or LOGIN_URL).rstrip("/")
        site = connection["site"]
        credentials = credentials_key(connection)
        if connection.get("client_id"):
            refresh_token = connection.get("refresh_token") or None
            if token_store is None:
                token_store = shared_memory_store((login_url, connection["client_id"], site.lower(), str(credentials)),
                                                  TokenSet(refresh_token) if refresh_token else None)
            auth = OAuthAuth(connection["client_id"], connection["client_secret"], site, refresh_token=refresh_token,
                             username=connection.get("username"), password=connection.get("password"),
                             token_store=token_store, credentials=credentials)
        else:
            auth = BasicAuth(site, connection["username"], connection["password"], credentials=credentials)
        return cls(auth, login_url=login_url, **options)

    # -- where the site lives ----------------------------------------------------------------------
    def site(self) -> SiteIdentity:
        """The site's identity and URLs: from the process cache, else from ``/id``."""
        found = self._identities.get(self._identity_key)
        return found if found is not None else self.rediscover()

    def rediscover(self) -> SiteIdentity:
        with self._lock:
            header = self.auth.authorization(self.transport, self.login_url)
            try:
                found = discover(self.transport, self.login_url, header)
            except EloquaAuthError:
                self.auth.invalidate(header)
                raise
            self._identities.put(self._identity_key, found)
            return found

    def url(self, api: str, path: str) -> str:
        """``api`` is "rest/1.0", "rest/2.0" or "bulk"; ``path`` is relative to that API's root."""
        site = self.site()
        root = site.bulk_url() if api == "bulk" else site.rest_url(api.split("/", 1)[1])
        return root + path.lstrip("/")

    # -- the central request ---------------------------------------------------------------------------
    def request(self, method: str, api: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                idempotent: bool | None = None) -> requests.Response:
        """The response of a successful call (2xx), or an ``EloquaError``. ``idempotent=False``
        (default for POST): never repeated once it may have reached Eloqua."""
        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        recovered = False
        while True:
            site = self.site()
            url = self.url(api, path)
            authorization = self.auth.authorization(self.transport, self.login_url)
            all_headers = {"Accept": "application/json", **(headers or {}), "Authorization": authorization}
            response = self.transport.send(method, url, idempotent=idempotent, params=params, json=json, data=data,
                                           headers=all_headers)
            if response.status_code != 401:
                return _checked(method, url, response)
            if recovered:
                raise EloquaPermissionError(f"{method} {url}: Eloqua answered 401 again after re-authenticating: "
                                            f"{response.text.strip()[:200]}", status=401, url=url)
            recovered = True
            self._recover(site, authorization)

    def _recover(self, used: SiteIdentity, authorization: str) -> None:
        """After a 401: a new pod, a new token, or a permission problem (see the module doc)."""
        try:
            fresh = self.rediscover()
        except EloquaAuthError:
            if not self.auth.refreshable:
                raise
            self.auth.refresh(self.transport, self.login_url)
            self.rediscover()
            return
        if fresh.base_url != used.base_url:
            return  # the site moved pods: replay at the new base
        if self.auth.refreshable and authorization != self.auth.authorization(self.transport, self.login_url):
            return  # the token changed meanwhile (another thread refreshed): replay with it
        raise EloquaPermissionError("Eloqua answered 401 although /id accepts the credentials: the user lacks a "
                                    "permission for this call (e.g. API or bulk import access)", status=401)

    def rest(self, method: str, path: str, *, version: str = "1.0", **kwargs: Any) -> Any:
        """A REST call (``path`` relative to ``/API/REST/<version>/``); the JSON answer or None."""
        return _json(self.request(method, f"rest/{version}", path, **kwargs))

    def bulk(self, method: str, path: str, **kwargs: Any) -> Any:
        """A Bulk 2.0 call (``path`` relative to ``/API/Bulk/2.0/``, or a ``uri`` it returned)."""
        return _json(self.request(method, "bulk", path, **kwargs))


def _checked(method: str, url: str, response: requests.Response) -> requests.Response:
    status = response.status_code
    if status < 400:
        return response
    body = _json(response) if response.content else None
    text = response.text.strip()[:300]
    message = f"{method} {url}: HTTP {status}: {text}"
    if status == 409:
        raise EloquaConflict(message, status=status, body=body, url=url)
    if status == 400:
        raise EloquaValidationError(message, status=status, body=body, url=url)
    if status == 403:
        raise EloquaPermissionError(message, status=status, body=body, url=url)
    if status == 404:
        raise EloquaNotFound(message, status=status, body=body, url=url)
    raise EloquaError(message, status=status, body=body, url=url)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
