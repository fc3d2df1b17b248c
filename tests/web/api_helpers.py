"""Shared by the API tests: user tokens for ACME's administrator and event builder and for
OTHER's administrator, and an app with CSRF on (the API must work without it)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.db import transaction
from connectors.models import User
from connectors.tokens import create_user_token

from .conftest import make_app


@dataclass
class Api:
    client: object
    tokens: dict[str, str]

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        if who == "bad":
            return {"Authorization": "Bearer cnu_not-a-real-token"}
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, method: str, url: str, who: str | None = "admin", **kwargs):
        return self.client.open(url, method=method, headers=self.headers(who), **kwargs)


def make_tokens(world) -> dict[str, str]:
    logins = {"admin": "admin@acme.test", "builder": "builder@acme.test", "other": "admin@other.test"}
    out = {}
    with transaction(world.services.factory) as s:
        for who, login_name in logins.items():
            user = s.query(User).filter_by(login=login_name).one()
            out[who] = create_user_token(s, user, f"{who} script")[1]
    return out


@pytest.fixture
def api(world) -> Api:
    app = make_app(world, WTF_CSRF_ENABLED=True)
    return Api(app.test_client(), make_tokens(world))


def errors_of(response) -> dict[str, list[str]]:
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), dict), (response.status_code, response.data[:300])
    return body["errors"]
