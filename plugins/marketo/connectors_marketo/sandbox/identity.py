"""The identity service: issues one token per API user and keeps handing back the same one,
with its remaining lifetime, until it expires (Marketo's documented behaviour)."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from connectors.sandbox import Request, Response, json_response

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox


@dataclass
class IssuedToken:
    value: str
    client_id: str
    expires_at: float
    revoked: bool = False


class TokenIssuer:
    def __init__(self, ttl: float = 3600, clock: Callable[[], float] = time.time):
        self.ttl = ttl
        self.clock = clock
        self._secrets: dict[str, str] = {}
        self._current: dict[str, IssuedToken] = {}
        self._all: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def add_api_user(self, client_id: str, client_secret: str) -> None:
        with self._lock:
            self._secrets[client_id] = client_secret

    def issue(self, client_id: str | None, client_secret: str | None) -> tuple[str, int] | None:
        """(token, expires_in) for good credentials, None for bad ones."""
        with self._lock:
            if client_id is None or self._secrets.get(client_id) != client_secret:
                return None
            now = self.clock()
            token = self._current.get(client_id)
            if token is None or token.revoked or token.expires_at - now < 1:
                token = IssuedToken(f"{uuid.uuid4()}:sj", client_id, now + self.ttl)
                self._current[client_id] = token
                self._all[token.value] = token
            return token.value, int(token.expires_at - now)

    def verify(self, value: str | None) -> str | None:
        """None when the token is good, else the Marketo code: 601 unknown/revoked, 602 expired."""
        return self.check(value)[1]

    def check(self, value: str | None) -> tuple[str | None, str | None]:
        """(the token's API user, None) when it is good, else (None, 601 or 602)."""
        with self._lock:
            token = self._all.get(value or "")
            if token is None or token.revoked:
                return None, "601"
            if self.clock() >= token.expires_at:
                return None, "602"
            return token.client_id, None

    def expire(self, client_id: str | None = None) -> None:
        """The current token(s) expire now: the next call with one gets 602."""
        with self._lock:
            for token in self._pick(client_id):
                token.expires_at = self.clock()

    def revoke(self, client_id: str | None = None) -> None:
        """The current token(s) become unknown: the next call with one gets 601."""
        with self._lock:
            for token in self._pick(client_id):
                token.revoked = True
                self._current.pop(token.client_id, None)

    def _pick(self, client_id: str | None) -> list[IssuedToken]:
        return [t for cid, t in self._current.items() if client_id is None or cid == client_id]


def register(sandbox: "MarketoSandbox") -> None:
    """``GET``/``POST /identity/oauth/token`` (query or form parameters); not counted in the quota."""

    def token(request: Request) -> Response:
        values = request.values()
        if values.get("grant_type", [None])[0] != "client_credentials":
            return json_response({"error": "invalid_request", "error_description": "Missing or unsupported grant type"},
                                 400, codes=("invalid_request",))
        issued = sandbox.tokens.issue(values.get("client_id", [None])[0], values.get("client_secret", [None])[0])
        if issued is None:
            return bad_credentials()
        value, expires_in = issued
        return json_response({"access_token": value, "token_type": "bearer", "expires_in": expires_in,
                              "scope": f"{sandbox.client_id}@sandbox.marketo.local"})

    sandbox.routes.add("GET", r"/identity/oauth/token", token)
    sandbox.routes.add("POST", r"/identity/oauth/token", token)


def bad_credentials() -> Response:
    return json_response({"error": "invalid_client", "error_description": "Bad client credentials"}, 401,
                         codes=("invalid_client",))
