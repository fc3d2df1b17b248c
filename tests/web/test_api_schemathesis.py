"""The API against its own OpenAPI document, with inputs schemathesis generates from it.

Every operation of ``/api/v1/openapi.json`` gets a bounded number of generated requests (valid
and invalid), derandomized so a run is repeatable, called in-process on the seeded world (SQLite,
then PostgreSQL, where an integer past 2**31 - 1 or a NUL in text fails) with the administrator's
user token (the ingestion endpoint: ACME's ingestion token). Each answer must not be a 5xx, must
match the document's response schema, status codes and content type, and a 405 must say ``Allow``.
Bounded to about half a minute per database on a small machine.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance, content_type_conformance, response_schema_conformance, status_code_conformance,
)

from connectors.db import transaction
from connectors.models import Account, JobRun
from connectors.tokens import create_token

from .api_helpers import add_registration, make_tokens
from .conftest import add_job, make_app
from .db_worlds import any_world  # noqa: F401  (a fixture)

#: generated requests per operation: enough to try each field's bounds, enums and types
EXAMPLES = 25
#: a page for browsers: without a token it sends them to the login page (302), as the admin does
BROWSER_PAGE = "/api/v1/docs"
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          allow_header_conformance]


@pytest.fixture
def target(any_world):
    """The app, its loaded document, and the token each kind of operation takes."""
    world = any_world
    app = make_app(world, WTF_CSRF_ENABLED=True)
    user = {"Authorization": f"Bearer {make_tokens(world)['admin']}"}
    ids = world.ids
    with transaction(world.services.factory) as s:
        ingest = {"Authorization": f"Bearer {create_token(s, s.get(Account, ids['acme']), 'fuzz')[1]}"}
        job_id = add_job(s, ids["acme"], ids["ev1"], ids["config"], "ended", run_status="failed")
        known = {"job_id": job_id, "run_id": s.query(JobRun.id).filter_by(job_id=job_id).scalar(),
                 "config_id": ids["config"], "registration_id": add_registration(s, ids), "event_code": "EV1",
                 "kind": "sessions", "subject_code": "S101"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=user)
    return schema, user, ingest, known


def _failures_of(strategy, label: str, headers) -> str | None:
    """The first failing case of ``strategy`` as text, or None when every generated case passes."""
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - failed checks, reported with the operation
        return f"{label}: {type(exc).__name__}: {str(exc)[:1500]}"
    return None


def _strategies(operation, known: dict):
    """Valid and invalid input, on random ids and then on rows that exist: a random id is rarely
    one, and most views look their row up (404) before they read the body."""
    yield "positive", operation.as_strategy()
    if operation.path != BROWSER_PAGE:
        yield "negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    names = [p.name for p in operation.path_parameters]
    if names:
        existing = {n: known[n] for n in names}
        yield "positive, existing rows", operation.as_strategy(path_parameters=existing)
        yield "negative, existing rows", operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=existing)


def test_every_operation_answers_generated_input_as_documented(target):
    schema, user, ingest, known = target
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        headers = ingest if operation.path.endswith("/status-changes") else user
        for mode, strategy in _strategies(operation, known):
            failure = _failures_of(strategy, f"{operation.label} ({mode})", headers)
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} failing:\n\n" + "\n\n".join(failures)
