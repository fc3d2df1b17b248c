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


def add_registration(session, ids) -> int:
    """Registration R1 of EV1 (Ann Lee, Marketo lead 42) with session S101 and agenda item W1 taken."""
    from connectors.models import (
        AgendaItem, AgendaItemRegistration, Profile, Registration, Session as EventSession, SessionRegistration,
    )
    profile = Profile(account_id=ids["acme"], pin="P1", email="ann@acme.test", first_name="Ann", last_name="Lee",
                      custom={}, external_ids={"marketo_lead_id": "42"})
    keynote = EventSession(event_id=ids["ev1"], session_code="S101", title="Keynote")
    workshop = AgendaItem(event_id=ids["ev1"], code="W1", name="Workshop")
    session.add_all([profile, keynote, workshop])
    session.flush()
    reg = Registration(event_id=ids["ev1"], profile_id=profile.id, registration_code="R1",
                       attendee_type_code="Attendee", status_label="New", external_ids={}, version=1)
    session.add(reg)
    session.flush()
    session.add_all([SessionRegistration(registration_id=reg.id, session_id=keynote.id, status="Registered"),
                     AgendaItemRegistration(registration_id=reg.id, agenda_item_id=workshop.id, status="Registered")])
    session.flush()
    return reg.id
