"""Process-wide cache of Marketo access tokens.

Marketo hands out one token per API user at a time and returns the same token (with its
remaining lifetime) until it expires, so the clients of one plugin configuration in a process
share it. The key is ``TokenKey``: the identity endpoint, the client id and the connection's
``credentials_key`` (its plugin configuration and a digest of all its settings, the secret
included). The client id alone is not enough: another account with the same client id and a
wrong secret would be handed this account's token and reach its leads; and an administrator's
new secret must be used at the next call, not when the old token runs out. When a token is
stored for a configuration, its tokens under older settings are dropped.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NamedTuple

from connectors import CredentialsKey

#: refresh proactively when less than this many seconds are left
REFRESH_MARGIN = 60.0


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # on the client's monotonic clock
    renew_at: float

    @classmethod
    def issued(cls, value: str, expires_in: float, now: float, margin: float = REFRESH_MARGIN) -> "AccessToken":
        """A token with ``expires_in`` seconds left. When it is already inside the margin (Marketo
        gave back the same token near its end), it is used until it expires rather than asking
        the identity service again on every call."""
        expires_at = now + max(0.0, expires_in)
        renew_at = expires_at - margin if expires_in > margin else expires_at
        return cls(value, expires_at, renew_at)


class TokenKey(NamedTuple):
    """Whose token: the instance's identity endpoint, the API user and the exact credentials."""

    identity_endpoint: str
    client_id: str
    credentials: CredentialsKey


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[TokenKey, AccessToken] = {}
        self._fetch_locks: dict[TokenKey, threading.Lock] = {}

    def usable(self, key: TokenKey, now: float) -> AccessToken | None:
        """The cached token if it needs no refresh yet."""
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and now < token.renew_at else None

    def put(self, key: TokenKey, token: AccessToken) -> None:
        """Keep ``token``; the same configuration's tokens under other settings go (they can
        never be asked for again, and must not outlive a changed secret)."""
        configuration = key.credentials.configuration
        with self._lock:
            if configuration is not None:
                for old in [k for k in self._tokens if k.credentials.configuration == configuration and k != key]:
                    del self._tokens[old]
                    self._fetch_locks.pop(old, None)
            self._tokens[key] = token

    def invalidate(self, key: TokenKey, value: str) -> None:
        """Forget the token, unless another thread already replaced it with a newer one."""
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]

    def fetch_lock(self, key: TokenKey) -> threading.Lock:
        """One identity call at a time per key, so a burst of threads makes only one."""
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def keys(self) -> list[TokenKey]:
        """What is cached now (for tests and diagnostics; never the tokens)."""
        with self._lock:
            return list(self._tokens)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._fetch_locks.clear()


TOKEN_CACHE = TokenCache()
