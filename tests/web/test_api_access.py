"""Every /api/v1 operation of the URL map, walked with ACME's samples as: no token, a bad token,
ACME's event builder, and OTHER's administrator. The roles come from each view's ``operation``
note, the one the OpenAPI document shows: a new route is walked without being listed here."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from connectors.db import transaction
from connectors.models import Base, JobRun, RunRecord
from connectors.web.api_docs import api_rules

from .api_helpers import add_registration, api  # noqa: F401  (fixture)
from .conftest import add_job

#: Well-formed bodies where ``{}`` would be refused anyway: the refusal must come from the role.
BODIES = {"retry": {"keys": ["k@acme.test"]}, "dismiss": {"keys": ["k@acme.test"]}}
#: Checked elsewhere: the ingestion token's endpoint (test_api_status_changes) and the document (test_api_docs).
OWN_TESTS = {"api.status_changes", "api.openapi", "api.docs"}


@pytest.fixture
def samples(world):
    ids = world.ids
    with transaction(world.services.factory) as s:
        event_job = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="succeeded")
        account_job = add_job(s, ids["acme"], None, ids["config"], "ended", run_status="succeeded",
                              job_type="testapp.profiles")
        runs = dict(s.execute(select(JobRun.job_id, JobRun.id)).all())
        s.add_all(RunRecord(run_id=runs[job], record_key="k@acme.test", outcome="failed", stage="load", code="bad")
                  for job in (event_job, account_job))  # a problem: a retry let through would queue a run
        registration_id = add_registration(s, ids)
    return {"event": {"job_id": event_job, "run_id": runs[event_job]},
            "account": {"job_id": account_job, "run_id": runs[account_job]},
            "event_code": "EV1", "registration_id": registration_id, "config_id": ids["config"],
            "subjects": [("sessions", "S101"), ("agenda-items", "W1")]}


def targets(app, samples):
    """(method, url, admin_only, names_acme_ids) for every API operation and sample set."""
    out = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in api_rules(app):
            if rule.endpoint in OWN_TESTS:
                continue
            note = app.view_functions[rule.endpoint].api_operation
            args = set(rule.arguments)
            owners = ["event", "account"] if args & {"job_id", "run_id"} else [None]
            subjects = samples["subjects"] if "kind" in args else [(None, None)]
            for owner in owners:
                for kind, code in subjects:
                    values = {k: samples[k] for k in ("event_code", "registration_id", "config_id") if k in args}
                    if owner:
                        values.update({k: samples[owner][k] for k in ("job_id", "run_id") if k in args})
                    if kind:
                        values.update(kind=kind, subject_code=code)
                    for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                        out.append((method, adapter.build(rule.endpoint, values, method=method),
                                    note.roles == "admin" or owner == "account", bool(values)))
    return out


def counts(world) -> dict[str, int]:
    with world.session() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def test_the_walk_covers_the_api(app, samples):
    walked = targets(app, samples)
    assert {(m, u) for m, u, *_ in walked} >= {("POST", f"/api/v1/runs/{samples[owner]['run_id']}/{action}")
                                               for owner in ("event", "account") for action in BODIES}
    assert len({url for _, url, _, _ in walked}) >= 20 and {m for m, *_ in walked} == {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.mark.parametrize("who", [None, "bad"])
def test_no_token_or_a_bad_one_is_401_and_changes_nothing(api, app, world, samples, who):
    before, failures = counts(world), []
    for method, url, _, _ in targets(app, samples):
        resp = api.call(method, url, who, json={})
        if resp.status_code != 401 or "authorization" not in (resp.get_json() or {}).get("errors", {}):
            failures.append(f"{method} {url}: {resp.status_code}")
    assert not failures, "\n".join(failures)
    assert counts(world) == before


def refused(api, app, world, samples, who: str, status: int, field: str, which) -> None:
    """Every target ``which`` picks answers ``status`` naming ``field`` to ``who``, and nothing changes."""
    before, failures = counts(world), []
    for method, url, admin_only, owned in targets(app, samples):
        if which(admin_only, owned):
            resp = api.call(method, url, who, json=BODIES.get(url.rsplit("/", 1)[-1], {}))
            if resp.status_code != status or field not in resp.get_json()["errors"]:
                failures.append(f"{method} {url}: {resp.status_code}")
    assert not failures, "\n".join(failures)
    assert counts(world) == before


def test_another_accounts_administrator_gets_404_on_acme_ids(api, app, world, samples):
    refused(api, app, world, samples, "other", 404, "resource", lambda admin_only, owned: owned)


def test_event_builders_get_403_on_administrators_operations(api, app, world, samples):
    refused(api, app, world, samples, "builder", 403, "role", lambda admin_only, owned: admin_only)


def test_administrators_and_builders_reach_what_they_may(api, app, samples):
    """Reads answer 200 to both (builders: their events' operations); nothing answers 401/403/404."""
    failures = []
    for method, url, admin_only, _ in targets(app, samples):
        if method != "GET":
            continue
        for who in ("admin",) if admin_only else ("admin", "builder"):
            status = api.call(method, url, who).status_code
            if status != 200:
                failures.append(f"{who}: {method} {url}: {status}")
    assert not failures, "\n".join(failures)


def test_unknown_addresses_and_methods_answer_json_after_the_token(api):
    assert api.call("GET", "/api/v1/nothing-here", None).status_code == 401
    missing = api.call("GET", "/api/v1/nothing-here")
    assert missing.status_code == 404 and "resource" in missing.get_json()["errors"]
    wrong = api.call("PATCH", "/api/v1/jobs")
    assert wrong.status_code == 405 and "method" in wrong.get_json()["errors"]
    assert api.client.get("/api/v1/status-changes").status_code == 405  # the ingestion endpoint is left alone
