"""Keys for what a process keeps per plugin configuration: tokens, sessions, discovered sites.

A plugin that caches anything a connection opens — an access token, an HTTP session with its
cookies, a site's identity, a lock around a refresh — across job runs in one process must key it
by *whose* connection it is and *what its credentials are*, never by a public part alone (a
client id, a site and user name): two accounts may share those, and one with a wrong secret
would otherwise be answered from the other's cache. And an administrator's saved secret must
take effect at the next call, not when a cached token expires.

So the core hands plugins their connection as ``ConnectionSettings``: a plain ``dict`` (the
settings with the secrets decrypted) that also knows the plugin configuration it came from
(``config_id``). ``credentials_key(connection)`` turns it into a ``CredentialsKey``: that
configuration id and a digest of *all* the connection's fields. Any change of any field (a new
secret, another endpoint, a rotated token saved back) gives a new digest, hence a new key and a
cache miss; two configurations with identical settings still differ by their id. A plain dict
(a plugin's own tests, a script) gets a key with ``configuration`` None: its digest alone.

The digest is an HMAC-SHA-256 under a key drawn at random when the process starts: equal within
the process, which is all a process-level cache needs, and worthless outside it — a key that
ends up in a log or a repr cannot be used to guess a short password offline. The secret itself
is never part of a key.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any, Mapping, NamedTuple

__all__ = ["ConnectionSettings", "CredentialsKey", "credentials_key"]

#: drawn once per process: digests compare within it and mean nothing outside it
_PROCESS_KEY = secrets.token_bytes(32)


class ConnectionSettings(dict):
    """A plugin configuration's connection settings, secrets decrypted: a ``dict`` like any
    other (copies made with ``dict(...)`` or ``{**...}`` are plain dicts again), plus the
    read-only ``config_id`` of the configuration the core read it from."""

    def __init__(self, values: Mapping[str, Any], config_id: int | None):
        super().__init__(values)
        self._config_id = config_id

    @property
    def config_id(self) -> int | None:
        return self._config_id

    def __reduce__(self):  # copies and pickles keep the configuration id
        return (type(self), (dict(self), self._config_id))

    def __repr__(self) -> str:  # never print the secrets it holds
        return f"ConnectionSettings(config_id={self._config_id!r}, fields={sorted(self)!r})"


class CredentialsKey(NamedTuple):
    """Whose connection (``configuration``: the plugin configuration's id, None for a plain
    mapping) and which credentials (``digest`` of every field). Hashable; use it whole in a
    cache key. A cache may use ``configuration`` to drop a configuration's entries made under
    older credentials once it stores one under the new ones."""

    configuration: int | None
    digest: str

    def __str__(self) -> str:
        return self.digest if self.configuration is None else f"config-{self.configuration}:{self.digest}"


def credentials_key(connection: Mapping[str, Any]) -> CredentialsKey:
    """The key of ``connection`` for a process-level cache: its configuration id (when the core
    built it, see ``ConnectionSettings``) and a digest of the canonical JSON of all its fields."""
    canonical = json.dumps(dict(connection), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hmac.new(_PROCESS_KEY, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
    return CredentialsKey(getattr(connection, "config_id", None), digest)
