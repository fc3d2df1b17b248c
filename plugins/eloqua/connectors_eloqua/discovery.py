"""Where a site lives (spec §1.3): ``GET <login>/id`` names the pod's base URL and the REST and
Bulk URL templates. Oracle asks for one call per session, cached (``/id`` is throttled), and a
new one on any 401: if the base changed, the site moved pods. Bad credentials, a disabled user
or an IP outside the allow-list make ``/id`` answer the JSON string "Not authenticated." — with
HTTP 200 — which is an authentication failure all the same.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Hashable, NamedTuple

from connectors import CredentialsKey

from .errors import EloquaAuthError, EloquaError
from .transport import Transport

LOGIN_URL = "https://login.eloqua.com"
NOT_AUTHENTICATED = "Not authenticated."


@dataclass(frozen=True)
class SiteIdentity:
    site_id: int
    site_name: str
    user: dict[str, Any]
    base_url: str
    rest_template: str
    bulk_template: str

    def rest_url(self, version: str) -> str:
        return self.rest_template.replace("{version}", version).rstrip("/") + "/"

    def bulk_url(self, version: str = "2.0") -> str:
        return self.bulk_template.replace("{version}", version).rstrip("/") + "/"


def discover(transport: Transport, login_url: str, authorization: str) -> SiteIdentity:
    url = login_url.rstrip("/") + "/id"
    response = transport.send("GET", url, idempotent=True, headers={"Authorization": authorization,
                                                                   "Accept": "application/json"})
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code == 401 or body == NOT_AUTHENTICATED:
        raise EloquaAuthError("Eloqua refused the credentials (/id: Not authenticated.): check the site, user and "
                              "password or token, that the user is enabled, and the site's IP allow-list",
                              status=response.status_code, body=body, url=url)
    if response.status_code != 200 or not isinstance(body, dict) or "urls" not in body:
        raise EloquaError(f"/id answered HTTP {response.status_code} without the site's URLs", status=response.status_code,
                          body=body, url=url)
    urls = body["urls"]
    base = urls["base"].rstrip("/")
    apis = urls.get("apis", {}).get("rest", {})
    return SiteIdentity(
        site_id=int(body.get("site", {}).get("id", 0)), site_name=body.get("site", {}).get("name", ""),
        user=body.get("user", {}), base_url=base,
        rest_template=apis.get("standard") or f"{base}/API/REST/{{version}}/",
        bulk_template=apis.get("bulk") or f"{base}/API/Bulk/{{version}}/",
    )


class IdentityKey(NamedTuple):
    """Whose ``/id`` answer: the login URL, the principal (the auth's ``key``, its credentials
    included) and those credentials again, by which the cache drops what older settings found."""

    login_url: str
    principal: Hashable
    credentials: CredentialsKey


class IdentityCache:
    """Process-wide: the clients of one plugin configuration with the same settings share one
    ``/id``. Keyed by ``IdentityKey``, never by site and user alone: an answer proves the
    credentials that got it, so another account's client (same site and user, a wrong password)
    must ask ``/id`` itself and be refused; and a configuration's answers under its older
    settings are dropped once one is stored under the new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[IdentityKey, SiteIdentity] = {}

    def get(self, key: IdentityKey) -> SiteIdentity | None:
        with self._lock:
            return self._found.get(key)

    def put(self, key: IdentityKey, identity: SiteIdentity) -> None:
        configuration = key.credentials.configuration
        with self._lock:
            if configuration is not None:
                for old in [k for k in self._found if k.credentials.configuration == configuration and k != key]:
                    del self._found[old]
            self._found[key] = identity

    def keys(self) -> list[IdentityKey]:
        """What is cached now (for tests and diagnostics)."""
        with self._lock:
            return list(self._found)

    def clear(self) -> None:
        with self._lock:
            self._found.clear()


IDENTITY_CACHE = IdentityCache()
