"""Process-wide cache of Marketo access tokens.

Marketo hands out one token per API user at a time and returns the same token (with its
remaining lifetime) until it expires, so all clients of one API user in a process share it.
The cache key is (identity endpoint, client_id): the client_id is the API user, and the
endpoint keeps two instances (or two sandboxes in one test run) apart.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

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


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], AccessToken] = {}
        self._fetch_locks: dict[tuple[str, str], threading.Lock] = {}

    def usable(self, key: tuple[str, str], now: float) -> AccessToken | None:
        """The cached token if it needs no refresh yet."""
        with self._lock:
            token = self._tokens.get(key)
        return token if token is not None and now < token.renew_at else None

    def put(self, key: tuple[str, str], token: AccessToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def invalidate(self, key: tuple[str, str], value: str) -> None:
        """Forget the token, unless another thread already replaced it with a newer one."""
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.value == value:
                del self._tokens[key]

    def fetch_lock(self, key: tuple[str, str]) -> threading.Lock:
        """One identity call at a time per key, so a burst of threads makes only one."""
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKEN_CACHE = TokenCache()
