"""Every route of the admin, walked as every kind of user: ``app.url_map`` is enumerated, each
route's arguments are filled with samples of account ACME (its event EV1, a job and run of EV1,
and an account-level job and run), and each answer is checked against ``connectors.event_access``:

- anonymous: sent to the login page (401 for the JSON API and the ``.json`` polling addresses);
- an event builder assigned to another event (EV2 only): 404 on everything of EV1;
- event builders on account-level routes (``/account/…``, account-level jobs and runs): 403;
- the administrator of another account: 404 on every address naming an ACME id;
- the users allowed (ACME's administrator; the builder of EV1 on event routes) get the page, so
  the 404s above come from the rule, not from a bad sample;
- a POST without its CSRF token: 400, on every form route.

A route joins a group by its address (``/account/``, ``/api/``, or an event code, job id or run
id in it) or is listed below with a reason; ``test_every_route_is_walked`` fails for any other, and
a new route that forgets its checks fails the walk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import product

import pytest
from flask import Flask
from sqlalchemy import func, select

from connectors import dead_letters
from connectors.db import transaction
from connectors.event_access import assign_event
from connectors.models import (
    Account, AgendaItem, AgendaItemRegistration, Base, Delivery, Event, Job, JobRun, PluginConfig, Profile,
    Registration, Session as EventSession, SessionRegistration, StatusChangeEvent, User,
)
from connectors.seed import get_or_create_event, get_or_create_user
from connectors.tokens import create_user_token

from .conftest import add_job, csrf_token, login, make_app

#: Routes the walk leaves alone, and why.
EXEMPT = {
    "static": "public CSS and JS files, no account data",
    "auth.login": "the login page is public; its CSRF and throttling are tested in test_auth and test_security",
    "metrics.metrics": "aggregate counts only, no account data; public by design (test_dead_letters_page)",
}
#: Routes for every signed-in user whatever their events, and why that is safe.
OPEN_TO_EVERY_USER = {
    "connectors.home": "lists only the events the user may see (test_home_lists_only_the_events_a_user_may_see)",
    "auth.logout": "ends the session it is sent with, nobody else's",
    "api_tokens.tokens": "a user's own API tokens only (tests/web/test_api_tokens.py)",
    "api_tokens.create": "makes a token for the signed-in user only",
    "api_tokens.revoke": "revokes only the signed-in user's own tokens (tests/web/test_api_tokens.py)",
}
#: API routes a signed-in browser may also read (GET, the API's description: no account data), and why.
API_DOCS_FOR_SESSIONS = {"api.docs": "the browsable API documentation", "api.openapi": "the OpenAPI document"}
#: Event routes that event builders may not use even on their own events (403), and why.
ADMINISTRATORS_ONLY = {
    "runs.decide_delivery": "a parked or uncertain delivery to an external system is settled by an administrator",
}
#: The JSON API (``/api/…``) takes no CSRF token: it is authenticated by a bearer token, never by the
#: cookie (``test_the_api_answers_401_to_a_signed_in_session_without_a_token``), so a forged request
#: from another site carries no credential.
#: Arguments whose sample belongs to ACME: another account's administrator must get 404.
ACCOUNT_OWNED_ARGS = {"event_code", "job_id", "run_id", "delivery_id", "registration_id", "config_id", "letter_id"}
#: Arguments whose samples come in two kinds: of EV1's job, and of the account-level job.
JOB_ARGS = ("job_id", "run_id", "delivery_id")
#: Arguments that make a route event-scoped (outside ``/account/``).
EVENT_ARGS = {"event_code", "job_id", "run_id", "delivery_id"}
#: API addresses for administrators only (as /account/ is for pages).
API_ACCOUNT_LEVEL = "/api/v1/plugin-configs"
ALLOWED = {"GET": {200, 302}, "POST": {200, 302, 400, 422}}  # a POST's empty form may be refused, the user is not
BUILDER2 = ("builder2@acme.test", "builder2-pw")
OTHER_ADMIN = ("admin@other.test", None)


@dataclass(frozen=True)
class Target:
    """One address to try: a route with its arguments filled in, and the scope it belongs to."""

    endpoint: str
    method: str
    url: str
    scope: str  # "event" | "account" | "api" | "open"
    owned: bool  # names an id of account ACME
    api_scope: str | None = None  # an API route's own scope, by its ids: "event" | "account" | None (lists)


@pytest.fixture
def samples(world):
    """ACME's samples (a job, run and parked delivery of EV1, the same of the account, a registration of
    EV1 with a session and an agenda item); a second builder assigned to EV2 only; EV3, assigned to nobody."""
    ids = world.ids
    with transaction(world.services.factory) as s:
        event_job = add_job(s, ids["acme"], ids["ev1"], ids["config"], "scheduled", run_status="running")
        account_job = add_job(s, ids["acme"], None, ids["config"], "scheduled", run_status="running",
                              job_type="testapp.profiles")
        runs = dict(s.execute(select(JobRun.job_id, JobRun.id).where(JobRun.job_id.in_([event_job, account_job]))).all())
        profile = Profile(account_id=ids["acme"], pin="P1", email="ann@acme.test", custom={}, external_ids={})
        keynote = EventSession(event_id=ids["ev1"], session_code="S101", title="Keynote")
        workshop = AgendaItem(event_id=ids["ev1"], code="W1", name="Workshop")
        s.add_all([profile, keynote, workshop])
        s.flush()
        reg = Registration(event_id=ids["ev1"], profile_id=profile.id, registration_code="R1",
                           attendee_type_code="Attendee", status_label="New", external_ids={}, version=1)
        s.add(reg)
        s.flush()
        s.add_all([SessionRegistration(registration_id=reg.id, session_id=keynote.id, status="Registered"),
                   AgendaItemRegistration(registration_id=reg.id, agenda_item_id=workshop.id, status="Registered")])
        change = StatusChangeEvent(id="evt-walk-1", type="registration.status_changed", account_id=ids["acme"],
                                   event_id=ids["ev1"], registration_id=reg.id, registration_version=1,
                                   payload={"previous": None, "current": {"status": "New"}})
        s.add(change)
        s.flush()
        deliveries = {job: Delivery(job_id=job, event_id=change.id, state="parked") for job in (event_job, account_job)}
        s.add_all(deliveries.values())
        s.flush()
        letter, _ = dead_letters.record(  # a dead letter of ACME: its event resolves to the account
            s, body=json.dumps({"id": change.id, "type": change.type, "version": 1, "payload": {}}), reason="rejected",
            queue="connectors.status-events.v1", died_at=None, exchange="connectors.events", routing_key=change.type)
        acme = s.get(Account, ids["acme"])
        builder2 = get_or_create_user(s, acme, BUILDER2[0], "Bea Builder", "event_builder", BUILDER2[1])
        assign_event(s, builder2, s.get(Event, ids["ev2"]))
        get_or_create_event(s, acme, "EV3", "Event Three")
    return {"event": {"job_id": event_job, "run_id": runs[event_job], "delivery_id": deliveries[event_job].id},
            "account": {"job_id": account_job, "run_id": runs[account_job], "delivery_id": deliveries[account_job].id},
            "event_code": "EV1", "registration_id": reg.id, "config_id": ids["config"], "application": "testapp",
            "letter_id": letter.id, "subjects": [("sessions", "S101"), ("agenda-items", "W1")]}


def _routes(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
            yield rule, method


def _scope(rule) -> str | None:
    if rule.endpoint in OPEN_TO_EVERY_USER:
        return "open"
    if rule.rule.startswith("/api/"):
        return "api"
    if rule.rule.startswith("/account/"):
        return "account"
    if rule.arguments & EVENT_ARGS:
        return "event"
    return None


def _argument_sets(rule, samples) -> list[tuple[str, dict]]:
    """(scope, API scope, arguments) to try: job and run routes once with EV1's, once with the account-level ones."""
    scope = _scope(rule)
    args = set(rule.arguments)
    unknown = args - {"event_code", *JOB_ARGS, "registration_id", "config_id", "application", "kind", "subject_code",
                         "letter_id"}
    assert not unknown, f"{rule.rule}: no sample for {sorted(unknown)}; add one to this test"
    base = {k: samples[k] for k in ("event_code", "registration_id", "config_id", "application", "letter_id")
            if k in args}
    subjects = samples["subjects"] if "kind" in args else [(None, None)]
    sets = []
    for (kind, code), owner in product(subjects, ["event", "account"] if args & set(JOB_ARGS) else [None]):
        values = dict(base)
        if kind:
            values.update(kind=kind, subject_code=code)
        if owner:
            values.update({k: samples[owner][k] for k in JOB_ARGS if k in args})
        sets.append((owner if scope == "event" and owner else scope, _api_scope(rule, owner), values))
    return sets


def _api_scope(rule, owner: str | None) -> str | None:
    """Plugin configurations are account-level; a job or run is its job's; an event's is the event's.
    Lists, the documentation and the ingestion endpoint name no id (they filter, or take no user)."""
    if not rule.rule.startswith("/api/"):
        return None
    if rule.rule.startswith(API_ACCOUNT_LEVEL):
        return "account"
    if owner:
        return owner
    return "event" if "event_code" in rule.arguments else None


def targets(app: Flask, samples) -> list[Target]:
    out = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule, method in _routes(app):
            if rule.endpoint in EXEMPT:
                continue
            for scope, api_scope, values in _argument_sets(rule, samples):
                out.append(Target(rule.endpoint, method, adapter.build(rule.endpoint, values, method=method), scope,
                                  bool(set(values) & ACCOUNT_OWNED_ARGS), api_scope))
    return out


def call(client, target: Target):
    return client.open(target.url, method=target.method, data={})


def signed_in(app: Flask, login_name: str, password: str | None = None):
    client = app.test_client()
    assert login(client, login_name, password).status_code == 302, login_name
    return client


def fingerprint(world) -> dict:
    """Row counts of every table, and the flags a POST could flip: a refused request changes none."""
    with world.session() as s:
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                  if t.name not in ("login_failures", "login_sessions")}
        return {"counts": counts,
                "jobs": sorted(s.execute(select(Job.id, Job.state, Job.enabled)).all()),
                "runs": sorted(s.execute(select(JobRun.id, JobRun.status, JobRun.cancel_requested)).all()),
                "configs": sorted(s.execute(select(PluginConfig.id, PluginConfig.enabled, PluginConfig.name)).all()),
                "registrations": sorted(s.execute(select(Registration.id, Registration.status_label)).all())}


def _check(failures: list[str], target: Target, got: int, expected: set[int] | int, who: str) -> None:
    wanted = expected if isinstance(expected, set) else {expected}
    if got not in wanted:
        failures.append(f"{who}: {target.method} {target.url} answered {got}, expected {sorted(wanted)}")


# -- the walk --------------------------------------------------------------------------------------------

def test_every_route_is_walked(app):
    unwalked = [f"{rule.rule} ({rule.endpoint})" for rule, _ in _routes(app)
                if rule.endpoint not in EXEMPT and _scope(rule) is None]
    assert not unwalked, ("routes in no group: put them under /account/ or an event, or list them in EXEMPT "
                          f"or OPEN_TO_EVERY_USER with a reason: {unwalked}")


def test_the_walk_covers_every_route_and_both_job_scopes(app, samples):
    walked = targets(app, samples)
    assert {t.endpoint for t in walked} | set(EXEMPT) == {rule.endpoint for rule in app.url_map.iter_rules()}
    job_scopes = {t.scope for t in walked if t.endpoint == "runs.job_detail"}
    assert job_scopes == {"event", "account"}


def test_anonymous_is_sent_to_login_everywhere(app, samples):
    client, failures = app.test_client(), []
    for target in targets(app, samples):
        response = call(client, target)
        if target.endpoint == "api.docs":
            _check(failures, target, response.status_code, 302, "anonymous")
        elif target.scope == "api" or target.url.endswith(".json"):
            _check(failures, target, response.status_code, 401, "anonymous")
        else:
            _check(failures, target, response.status_code, 302, "anonymous")
            if response.status_code == 302 and "/login" not in response.headers["Location"]:
                failures.append(f"anonymous: {target.url} redirected to {response.headers['Location']}")
    assert not failures, "\n".join(failures)


def test_a_builder_of_another_event_and_another_accounts_admin_get_404_and_change_nothing(app, world, samples):
    before = fingerprint(world)
    builder2, other_admin, failures = signed_in(app, *BUILDER2), signed_in(app, *OTHER_ADMIN), []
    for target in targets(app, samples):
        if target.scope == "event":
            _check(failures, target, call(builder2, target).status_code, 404, "builder of EV2")
        if target.scope in ("event", "account") and target.owned:
            _check(failures, target, call(other_admin, target).status_code, 404, "OTHER's administrator")
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before


def test_builders_get_403_on_account_level_routes_and_change_nothing(app, world, samples):
    before = fingerprint(world)
    builders = {"builder of EV1 and EV2": signed_in(app, "builder@acme.test"), "builder of EV2": signed_in(app, *BUILDER2)}
    failures = []
    for target in targets(app, samples):
        if target.scope == "account":
            for who, client in builders.items():
                _check(failures, target, call(client, target).status_code, 403, who)
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before


def test_the_api_answers_401_to_a_signed_in_session_without_a_token(app, samples):
    admin, failures = signed_in(app, "admin@acme.test"), []
    for target in targets(app, samples):
        if target.scope == "api":
            wanted = 200 if target.endpoint in API_DOCS_FOR_SESSIONS else 401
            _check(failures, target, call(admin, target).status_code, wanted, "ACME's administrator, no token")
    assert not failures, "\n".join(failures)


def test_the_api_applies_the_same_rule_to_user_tokens(app, world, samples):
    """With a user's API token instead of a session: 404 for the builder of EV2 and for OTHER's
    administrator, 403 for builders on account-level addresses, nothing changed."""
    tokens = {}
    with transaction(world.services.factory) as s:
        for who in ("builder@acme.test", BUILDER2[0], OTHER_ADMIN[0]):
            tokens[who] = create_user_token(s, s.scalar(select(User).where(User.login == who)), "walk")[1]
    before, client, failures, walked = fingerprint(world), app.test_client(), [], 0

    def answer(who: str, target: Target) -> int:
        return client.open(target.url, method=target.method, json={},
                           headers={"Authorization": f"Bearer {tokens[who]}"}).status_code

    for target in targets(app, samples):
        walked += target.api_scope is not None
        if target.api_scope == "event":
            _check(failures, target, answer(BUILDER2[0], target), 404, "builder of EV2's token")
        if target.api_scope == "account":
            for who in ("builder@acme.test", BUILDER2[0]):
                _check(failures, target, answer(who, target), 403, f"{who}'s token")
        if target.api_scope and target.owned:
            _check(failures, target, answer(OTHER_ADMIN[0], target), 404, "OTHER's administrator's token")
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before
    assert walked or not any(rule.rule.startswith("/api/v1/") and rule.arguments for rule in app.url_map.iter_rules())


def test_the_users_allowed_reach_every_route(app, samples):
    """Reads first, then the forms (which may change the samples' state, never remove them)."""
    admin, builder, failures = signed_in(app, "admin@acme.test"), signed_in(app, "builder@acme.test"), []
    walked = sorted(targets(app, samples), key=lambda t: (t.method != "GET", t.endpoint == "auth.logout"))
    for target in walked:
        if target.scope == "api":
            continue
        _check(failures, target, call(admin, target).status_code, ALLOWED[target.method], "ACME's administrator")
        if target.scope in ("event", "open"):
            allowed = {403} if target.endpoint in ADMINISTRATORS_ONLY else ALLOWED[target.method]
            _check(failures, target, call(builder, target).status_code, allowed, "builder of EV1")
    assert not failures, "\n".join(failures)


def test_every_form_route_refuses_a_post_without_its_csrf_token(world, samples):
    app = make_app(world, WTF_CSRF_ENABLED=True)
    before = fingerprint(world)
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"login": "admin@acme.test", "password": "admin-pw"}).status_code == 400
    assert login(client, "admin@acme.test", csrf_token=token).status_code == 302
    failures = []
    for target in targets(app, samples):
        if target.method != "GET" and target.scope != "api":
            _check(failures, target, call(client, target).status_code, 400, "ACME's administrator without a token")
    assert not failures, "\n".join(failures)
    assert fingerprint(world) == before
    assert client.get("/").status_code == 200  # the refused logout left the session alone


# -- ids in query strings, and what lists show -------------------------------------------------------------

def test_home_lists_only_the_events_a_user_may_see(app, samples):
    pages = {who: signed_in(app, *creds).get("/").get_data(as_text=True)
             for who, creds in {"admin": ("admin@acme.test",), "builder": ("builder@acme.test",),
                                "builder2": BUILDER2, "other": OTHER_ADMIN}.items()}
    shown = {who: {name for name in ("Event One", "Event Two", "Event Three", "Other Event") if name in html}
             for who, html in pages.items()}
    assert shown == {"admin": {"Event One", "Event Two", "Event Three"}, "builder": {"Event One", "Event Two"},
                     "builder2": {"Event Two"}, "other": {"Other Event"}}


def test_a_builder_without_events_is_told_why_the_list_is_empty(app, world):
    with transaction(world.services.factory) as s:
        get_or_create_user(s, s.get(Account, world.ids["acme"]), "new@acme.test", "New Builder", "event_builder", "new-pw")
    html = signed_in(app, "new@acme.test", "new-pw").get("/").get_data(as_text=True)
    assert "You are not assigned to any event yet" in html and "Event One" not in html


def test_ids_in_query_strings_are_scoped_too(app, world, samples):
    admin = signed_in(app, "admin@acme.test")
    with world.session() as s:
        other_run = s.scalar(select(JobRun.id).where(JobRun.job_id == world.ids["other_job"]))
    job = samples["event"]["job_id"]
    assert admin.get(f"/jobs/{job}?run={samples['account']['run_id']}").status_code == 404  # a run of another job
    assert admin.get(f"/jobs/{job}?run={other_run}").status_code == 404  # of another account
    assert admin.get(f"/jobs/{job}?run={samples['event']['run_id']}").status_code == 200
    assert admin.get("/account/connectors?event=OEV").status_code == 404
    assert admin.get("/account/connectors?event=EV3").status_code == 200


def test_a_valid_schedule_edit_or_delete_by_the_wrong_user_is_refused_and_changes_nothing(app, world, samples):
    """The walk posts empty forms; a well-formed "Edit schedule" or "Delete" is refused the same way."""
    schedule = {"run_mode": "recurring", "frequency": "daily", "interval": "1", "time_of_day": "02:00",
                "start_at": "2030-05-01T00:00", "end_at": "2030-06-30T00:00", "timezone": "UTC"}
    with world.session() as s:
        s.get(JobRun, samples["event"]["run_id"]).status = "succeeded"  # nothing going: deletable by the right user
        s.commit()
    before = fingerprint(world)
    event_job, account_job = samples["event"]["job_id"], samples["account"]["job_id"]
    answers = {
        "builder of EV2": (signed_in(app, *BUILDER2), {event_job: 404, account_job: 403}),
        "builder of EV1": (signed_in(app, "builder@acme.test"), {account_job: 403}),
        "OTHER's administrator": (signed_in(app, *OTHER_ADMIN), {event_job: 404, account_job: 404}),
    }
    for who, (client, expected) in answers.items():
        for job, status in expected.items():
            assert client.post(f"/jobs/{job}/schedule", data=schedule).status_code == status, (who, job)
            assert client.post(f"/jobs/{job}/delete").status_code == status, (who, job)
    assert fingerprint(world) == before
