"""Where the OAuth token chain lives between calls, runs and processes (spec §1.2).

Eloqua's refresh tokens are single use: every refresh returns a new one and the old one is dead.
Lose the new one and a person has to authorise the app again. So the client hands every new
``TokenSet`` to a ``TokenStore`` and uses the new access token only once ``save`` returned; a
store must make ``save`` durable and atomic (all of the set or none of it). A store may also
offer ``exclusive()``: a context manager during which no other process refreshes, so two workers
never spend the same single-use refresh token. ``StateTokenStore`` keeps the chain where the
core keeps the plugin configuration (its encrypted secrets, through ``ConnectionState``);
``FileTokenStore`` and ``MemoryTokenStore`` serve scripts and tests. A plain callable works too:
it is called with each new ``TokenSet``.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, ContextManager, Protocol, runtime_checkable


@dataclass(frozen=True)
class TokenSet:
    refresh_token: str
    access_token: str | None = None
    expires_at: float | None = None  # wall-clock epoch seconds

    def usable(self, now: float, margin: float) -> bool:
        return bool(self.access_token) and self.expires_at is not None and now < self.expires_at - margin


@runtime_checkable
class TokenStore(Protocol):
    def load(self) -> TokenSet | None:
        """The latest saved set (another worker may have rotated the chain since)."""

    def save(self, tokens: TokenSet) -> None:
        """Persist durably and atomically; return only once it is safe."""


class MemoryTokenStore:
    def __init__(self, initial: TokenSet | None = None):
        self._lock = threading.Lock()
        self._tokens = initial
        self.saves: list[TokenSet] = []

    def load(self) -> TokenSet | None:
        with self._lock:
            return self._tokens

    def save(self, tokens: TokenSet) -> None:
        with self._lock:
            self._tokens = tokens
            self.saves.append(tokens)


class CallbackTokenStore:
    """A save callback (e.g. the core's) with the last saved set kept for ``load``."""

    def __init__(self, on_save: Callable[[TokenSet], None], initial: TokenSet | None = None):
        self._on_save = on_save
        self._tokens = initial

    def load(self) -> TokenSet | None:
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        self._on_save(tokens)
        self._tokens = tokens


class StateTokenStore:
    """The chain in the plugin configuration's secrets (the core's ``ConnectionState``): the
    rotated refresh token replaces the one the administrator entered, and the access token and
    its expiry are kept beside it, so every worker and process follows one chain. ``exclusive``
    is the configuration's lease: one refresh at a time across processes."""

    def __init__(self, state: Any):
        self.state = state

    def load(self) -> TokenSet | None:
        values = self.state.load()
        if not values.get("refresh_token"):
            return None
        expires = values.get("access_token_expires_at")
        return TokenSet(values["refresh_token"], values.get("access_token") or None,
                        float(expires) if expires is not None else None)

    def save(self, tokens: TokenSet) -> None:
        self.state.save({"refresh_token": tokens.refresh_token, "access_token": tokens.access_token,
                         "access_token_expires_at": tokens.expires_at})

    def exclusive(self) -> ContextManager[None]:
        return self.state.exclusive()


class FileTokenStore:
    """A JSON file replaced atomically (write a temporary file, fsync, rename): a crash leaves
    either the old chain or the new one on disk, never half of each."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)

    def load(self) -> TokenSet | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return TokenSet(**json.load(handle))
        except FileNotFoundError:
            return None

    def save(self, tokens: TokenSet) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(prefix=".tokens-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(tokens), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def as_store(store: TokenStore | Callable[[TokenSet], None] | None, initial: TokenSet | None) -> TokenStore:
    if store is None:
        return MemoryTokenStore(initial)
    if isinstance(store, TokenStore):
        if initial is not None and store.load() is None:
            store.save(initial)
        return store
    return CallbackTokenStore(store, initial)


_SHARED: dict[tuple[str, ...], MemoryTokenStore] = {}
_SHARED_LOCK = threading.Lock()


def shared_memory_store(key: tuple[str, ...], initial: TokenSet) -> MemoryTokenStore:
    """One in-memory chain per key in this process, so clients built from the same connection
    settings keep following the chain they rotate. The key must name the exact settings — the
    client builds it from the login URL, client, site and the connection's ``credentials_key``
    (all its fields, secret and first refresh token included) — so a client with another secret
    never follows, nor spends, this chain."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(key, MemoryTokenStore(initial))


def clear_shared_stores() -> None:
    with _SHARED_LOCK:
        _SHARED.clear()
