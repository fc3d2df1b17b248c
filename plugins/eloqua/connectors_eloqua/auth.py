"""The two ways to sign Eloqua calls (spec §1.1, §1.2).

``BasicAuth`` sends ``Site\\User:Password`` (built here from the three parts, so users never
type the backslash). ``OAuthAuth`` sends a Bearer token and keeps the single-use refresh token
chain alive: before refreshing it re-reads the ``TokenStore`` (another worker may have rotated
the chain already), and it saves every new set *before* the new access token is used; if the
save fails the access token is not used and the save is tried again first on the next call.
Refreshes are serialised per ``key`` within the process.

Each auth's ``key`` names the principal *and* its exact credentials (``credentials``: the
connection's ``credentials_key`` — its plugin configuration and a digest of all its settings —
or, for an auth built by hand, a digest of what it was given). The process-wide caches keyed by
it (``/id`` answers in ``discovery.py``, the refresh locks here) are so never shared by two
accounts that happen to use the same site and user or OAuth client, and a changed password or
secret is a new key: its first call goes to Eloqua, whatever was cached for the old one.
"""
from __future__ import annotations

import base64
import threading
import time
import weakref
from dataclasses import replace
from typing import Any, Callable, Hashable

from connectors import CredentialsKey, credentials_key

from .errors import EloquaAuthError, TokenPersistError
from .tokens import TokenSet, TokenStore, as_store
from .transport import Transport

#: refresh when less than this many seconds are left (tap-eloqua pads by 10 s)
REFRESH_MARGIN = 60.0
#: one refresh lock per auth key while some auth of that key lives (each holds its lock), so keys
#: of old credentials do not pile up
_LOCKS: "weakref.WeakValueDictionary[Hashable, threading.Lock]" = weakref.WeakValueDictionary()
_LOCKS_GUARD = threading.Lock()


def _lock_for(key: Hashable) -> threading.Lock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(key)
        if lock is None:
            lock = _LOCKS[key] = threading.Lock()
        return lock


class BasicAuth:
    refreshable = False

    def __init__(self, site: str, username: str, password: str, *, credentials: CredentialsKey | None = None):
        self.site, self.username, self._password = site.strip(), username.strip(), password
        self.credentials = credentials or credentials_key({"site": self.site, "username": self.username,
                                                           "password": password})

    @property
    def key(self) -> Hashable:
        return ("basic", self.site.lower(), self.username.lower(), self.credentials)

    def authorization(self, transport: Transport, login_url: str) -> str:
        raw = f"{self.site}\\{self.username}:{self._password}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def invalidate(self, used: str) -> None:
        """Nothing to refresh: Basic credentials are what they are."""

    def refresh(self, transport: Transport, login_url: str) -> None:
        raise EloquaAuthError("Eloqua refused the user name and password")


class OAuthAuth:
    refreshable = True

    def __init__(self, client_id: str, client_secret: str, site: str, *, refresh_token: str | None = None,
                 username: str | None = None, password: str | None = None,
                 token_store: TokenStore | Callable[[TokenSet], None] | None = None, redirect_uri: str | None = None,
                 wall_clock: Callable[[], float] = time.time, margin: float = REFRESH_MARGIN,
                 credentials: CredentialsKey | None = None):
        self.client_id, self._client_secret, self.site = client_id, client_secret, site.strip()
        self.credentials = credentials or credentials_key({
            "client_id": client_id, "client_secret": client_secret, "site": self.site, "refresh_token": refresh_token,
            "username": username, "password": password})
        self._lock = _lock_for(self.key)  # held here: the registry keeps it while this auth lives
        self.username, self._password, self.redirect_uri = username, password, redirect_uri
        self.store = as_store(token_store, TokenSet(refresh_token) if refresh_token else None)
        self._clock, self._margin = wall_clock, margin
        self._current: TokenSet | None = None
        self._unsaved: TokenSet | None = None
        self._stale: set[str] = set()
        self.refreshes = 0  # token endpoint calls that returned a new set (for tests and logs)

    @property
    def key(self) -> Hashable:
        return ("oauth", self.client_id, self.site.lower(), self.credentials)

    def authorization(self, transport: Transport, login_url: str) -> str:
        return "Bearer " + self.access_token(transport, login_url)

    def access_token(self, transport: Transport, login_url: str) -> str:
        with self._lock:
            if self._unsaved is not None:
                self._persist(self._unsaved)
            now = self._clock()
            current = self._current
            if current is not None and current.usable(now, self._margin) and current.access_token not in self._stale:
                return current.access_token
            found = self._stored(now)
            if found is not None:
                return found
            exclusive = getattr(self.store, "exclusive", None)
            if exclusive is None:
                return self._refresh(transport, login_url, self.store.load() or current)
            with exclusive():  # across processes: the refresh token is spent once
                return self._stored(self._clock()) or self._refresh(transport, login_url, self.store.load() or current)

    def _stored(self, now: float) -> str | None:
        """The stored access token if it is still good (another worker may have refreshed)."""
        stored = self.store.load()
        if stored is not None and stored.usable(now, self._margin) and stored.access_token not in self._stale:
            self._current = stored
            return stored.access_token
        return None

    def invalidate(self, used: str) -> None:
        """Eloqua refused this Authorization value: do not use its token again."""
        scheme, _, token = used.partition(" ")
        if scheme == "Bearer" and token:
            self._stale.add(token)
            if self._current is not None and self._current.access_token == token:
                self._current = replace(self._current, access_token=None)

    def refresh(self, transport: Transport, login_url: str) -> None:
        """Get a new access token now (the current one was refused)."""
        if self._current is not None and self._current.access_token:
            self.invalidate("Bearer " + self._current.access_token)
        self.access_token(transport, login_url)

    # -- the token endpoint ------------------------------------------------------------------------
    def _refresh(self, transport: Transport, login_url: str, tokens: TokenSet | None) -> str:
        url = login_url.rstrip("/") + "/auth/oauth2/token"
        for _ in range(2):
            response = transport.send("POST", url, idempotent=True, data=self._grant(tokens),
                                      auth=(self.client_id, self._client_secret))
            body = _json(response)
            if response.status_code == 200 and body.get("access_token") and body.get("refresh_token"):
                new = TokenSet(body["refresh_token"], body["access_token"],
                               self._clock() + float(body.get("expires_in", 0)))
                self._unsaved = new
                self.refreshes += 1
                self._persist(new)
                return new.access_token
            if body.get("error") == "invalid_grant" and tokens is not None and response.status_code == 400:
                latest = self.store.load()  # did another worker rotate the chain under us?
                if latest is not None and latest.refresh_token != tokens.refresh_token:
                    if latest.usable(self._clock(), self._margin) and latest.access_token not in self._stale:
                        self._current = latest
                        return latest.access_token
                    tokens = latest
                    continue
            raise EloquaAuthError(_refusal(response.status_code, body), status=response.status_code, body=body,
                                  url=url)
        raise EloquaAuthError("the refresh token chain was rotated by someone else twice in a row; try again")

    def _grant(self, tokens: TokenSet | None) -> dict[str, str]:
        if tokens is not None and tokens.refresh_token:
            grant = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "scope": "full"}
            if self.redirect_uri:
                grant["redirect_uri"] = self.redirect_uri
            return grant
        if self.username and self._password:
            return {"grant_type": "password", "scope": "full", "username": f"{self.site}\\{self.username}",
                    "password": self._password}
        raise EloquaAuthError("no refresh token and no user name/password: authorise the Eloqua app first")

    def _persist(self, tokens: TokenSet) -> None:
        try:
            self.store.save(tokens)
        except Exception as exc:  # noqa: BLE001 - whatever the store raised, the token must not be used
            raise TokenPersistError(f"the new Eloqua refresh token could not be saved ({exc!r}); it is kept in "
                                    "memory and saved before the next call") from exc
        self._current, self._unsaved = tokens, None


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(status: int, body: dict[str, Any]) -> str:
    error = body.get("error", f"HTTP {status}")
    if error == "invalid_client":
        return "Eloqua refused the OAuth client id/secret (invalid_client)"
    if error == "invalid_grant" and status == 401:
        return "the Eloqua refresh token has expired: authorise the app again"
    if error == "invalid_grant":
        return ("Eloqua refused the refresh token (invalid_grant: already used or revoked): "
                "authorise the app again")
    return f"the Eloqua token endpoint refused: {error} {body.get('error_description', '')}".strip()
