"""Who may call the sandbox (spec §1): one site with its users, the OAuth apps registered in it,
and the tokens it issued.

Basic credentials are ``Site\\User:Password``; OAuth access tokens expire after ``access_ttl``
seconds on the sandbox clock; refresh tokens are single use (every refresh rotates them, the
old one answers ``invalid_grant``) and expire after ``refresh_ttl``. ``revoke_on_refresh``
is Eloqua before release 26B: a refresh also kills the access token it replaces.
"""
from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from typing import Callable

ACCESS_TTL = 28_800            # 8 hours
REFRESH_TTL = 365 * 86_400     # 12 months, or until used


@dataclass
class User:
    id: int
    username: str
    password: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    enabled: bool = True

    def record(self) -> dict[str, object]:
        """The ``user`` part of ``/id``."""
        return {"id": self.id, "username": self.username, "displayName": f"{self.first_name} {self.last_name}".strip(),
                "firstName": self.first_name, "lastName": self.last_name, "emailAddress": self.email}


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uri: str = "https://localhost/callback"


@dataclass
class AccessToken:
    value: str
    user: User
    client_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    value: str
    user: User
    client_id: str
    expires_at: float
    access: str  # the access token issued with it (revoked on refresh before 26B)
    used: bool = False


class OAuthRefused(Exception):
    """The token endpoint's answer when it refuses: HTTP status and OAuth ``error``."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class Identity:
    site_name: str
    site_id: int = 42
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    access_ttl: float = ACCESS_TTL
    refresh_ttl: float = REFRESH_TTL
    revoke_on_refresh: bool = True
    users: dict[str, User] = field(default_factory=dict)
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, tuple[User, str, str]] = field(default_factory=dict)  # code -> (user, client_id, redirect)
    blocked: bool = False  # the caller's IP is outside the site's allow-list
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- set-up ---------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, **details: object) -> User:
        with self.lock:
            user = User(id=300 + len(self.users) + 14, username=username, password=password, **details)
            self.users[username.lower()] = user
            return user

    def add_app(self, client_id: str, client_secret: str, redirect_uri: str = "https://localhost/callback") -> OAuthApp:
        with self.lock:
            app = OAuthApp(client_id, client_secret, redirect_uri)
            self.apps[client_id] = app
            return app

    def user(self, username: str) -> User | None:
        return self.users.get(username.lower())

    # -- checking callers ---------------------------------------------------------------------------
    def login(self, site_user: str, password: str) -> User | None:
        """``Site\\User`` + password -> the user (site and user names ignore case)."""
        site, sep, name = site_user.partition("\\")
        if not sep or site.lower() != self.site_name.lower():
            return None
        user = self.user(name)
        if user is None or not user.enabled or user.password != password or self.blocked:
            return None
        return user

    def caller(self, authorization: str | None) -> tuple[User | None, str]:
        """(user, scheme) for an ``Authorization`` header; user None when refused."""
        scheme, _, value = (authorization or "").partition(" ")
        scheme = scheme.lower()
        with self.lock:
            if scheme == "basic":
                try:
                    decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    return None, "basic"
                site_user, _, password = decoded.partition(":")
                return self.login(site_user, password), "basic"
            if scheme == "bearer":
                token = self.access_tokens.get(value.strip())
                if token is None or token.revoked or self.clock() >= token.expires_at:
                    return None, "bearer"
                if not token.user.enabled or self.blocked:
                    return None, "bearer"
                return token.user, "bearer"
        return None, scheme or "none"

    def app(self, client_id: str | None, client_secret: str | None) -> OAuthApp | None:
        app = self.apps.get(client_id or "")
        return app if app is not None and app.client_secret == client_secret else None

    # -- grants ---------------------------------------------------------------------------------------
    def issue(self, user: User, client_id: str) -> dict[str, object]:
        with self.lock:
            now = self.clock()
            access = AccessToken(_token(), user, client_id, now + self.access_ttl)
            refresh = RefreshToken(_token(), user, client_id, now + self.refresh_ttl, access.value)
            self.access_tokens[access.value] = access
            self.refresh_tokens[refresh.value] = refresh
            return {"access_token": access.value, "token_type": "bearer", "expires_in": int(self.access_ttl),
                    "refresh_token": refresh.value}

    def password_grant(self, app: OAuthApp, username: str, password: str) -> dict[str, object]:
        user = self.login(username, password)
        if user is None:
            raise OAuthRefused(400, "invalid_grant", "The user credentials are invalid")
        return self.issue(user, app.client_id)

    def refresh_grant(self, app: OAuthApp, value: str) -> dict[str, object]:
        with self.lock:
            token = self.refresh_tokens.get(value)
            if token is None or token.client_id != app.client_id or token.used:
                raise OAuthRefused(400, "invalid_grant", "The refresh token is invalid or was already used")
            if self.clock() >= token.expires_at:
                raise OAuthRefused(401, "invalid_grant", "The refresh token has expired")
            token.used = True
            if self.revoke_on_refresh and token.access in self.access_tokens:
                self.access_tokens[token.access].revoked = True
            return self.issue(token.user, app.client_id)

    def authorize(self, client_id: str, redirect_uri: str, user: User) -> str:
        with self.lock:
            code = _token()
            self.codes[code] = (user, client_id, redirect_uri)
            return code

    def code_grant(self, app: OAuthApp, code: str, redirect_uri: str | None) -> dict[str, object]:
        with self.lock:
            found = self.codes.pop(code, None)
            if found is None or found[1] != app.client_id or (redirect_uri and redirect_uri != found[2]):
                raise OAuthRefused(400, "invalid_grant", "The authorization code is invalid")
            return self.issue(found[0], app.client_id)

    # -- faults -----------------------------------------------------------------------------------------
    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens stay good)."""
        with self.lock:
            now = self.clock()
            for token in self.access_tokens.values():
                token.expires_at = min(token.expires_at, now)

    def expire_refresh_tokens(self) -> None:
        with self.lock:
            now = self.clock()
            for token in self.refresh_tokens.values():
                token.expires_at = min(token.expires_at, now)

    def live_refresh_tokens(self) -> list[str]:
        with self.lock:
            now = self.clock()
            return [t.value for t in self.refresh_tokens.values() if not t.used and now < t.expires_at]


def _token() -> str:
    return secrets.token_urlsafe(24)
