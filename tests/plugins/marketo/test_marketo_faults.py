"""Every fault the sandbox can inject, and what the client makes of it (spec §1.5, §7)."""
from __future__ import annotations

import random

import pytest
import requests

from connectors_marketo.client import MarketoClient
from connectors_marketo.errors import MarketoAuthError, MarketoError, MarketoQuotaExhausted
from connectors_marketo.ratelimit import RATE_LIMITERS
from connectors_marketo.retry import RetryPolicy
from connectors_marketo.sandbox import CONFIRMATION_CAMPAIGN, start_sandbox

DESCRIBE = r"/rest/v1/leads/describe\.json"


@pytest.fixture(autouse=True)
def fresh_limiters():
    RATE_LIMITERS.clear()
    yield
    RATE_LIMITERS.clear()


def describe_calls(sandbox):
    return sandbox.journal.filter(path=DESCRIBE)


# -- transient failures are retried ------------------------------------------------------------------
@pytest.mark.parametrize("code", ["500", "502", "604", "606", "608", "611", "614", "615", "713"])
def test_each_transient_envelope_code_is_retried(sandbox, client, sleeps, code):
    sandbox.fail_next(1, code=code)
    assert client.describe_leads()
    assert [e.codes for e in describe_calls(sandbox)] == [(code,), ()]
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_with_an_html_body_is_retried(sandbox, client, sleeps, status):
    sandbox.fail_next(1, http_status=status)
    assert client.describe_leads()
    first = describe_calls(sandbox)[0]
    assert first.status == status and first.response.startswith("<html>")
    assert len(describe_calls(sandbox)) == 2 and len(sleeps) == 1


def test_connection_reset_is_retried(sandbox, client, sleeps):
    sandbox.fail_next(2, drop_connection=True)
    assert client.describe_leads()
    assert len(describe_calls(sandbox)) == 3 and len(sleeps) == 2


def test_truncated_body_is_retried(sandbox, client, sleeps):
    sandbox.fail_next(1, truncate=True)
    assert client.describe_leads()
    first, second = describe_calls(sandbox)
    assert "truncated" in first.codes and second.codes == ()
    assert len(sleeps) == 1


def test_a_hanging_call_times_out_and_is_retried(sandbox, make_client, sleeps):
    sandbox.hang_next(1, seconds=3)
    client = make_client(timeout=(2.0, 0.2), daily_budget=None)
    try:
        assert client.describe_leads()
    finally:
        sandbox.release_hangs()
    assert len(sleeps) == 1


def test_611_is_retried_only_a_few_times(sandbox, client):
    sandbox.fail_next(5, code=611)
    with pytest.raises(MarketoError) as caught:
        client.describe_leads()
    assert caught.value.code == "611" and len(describe_calls(sandbox)) == 3


def test_random_faults_are_seeded_and_all_retried(make_client):
    runs = []
    for _ in range(2):
        sandbox = start_sandbox(seed=False)
        try:
            sandbox.fail_randomly(0.3, codes=(604, 608, 713), http_statuses=(503,), drop_connection=True, seed=11)
            client = MarketoClient.from_connection(sandbox.connection, sleep=lambda s: None, rng=random.Random(1),
                                                   retry=RetryPolicy(max_attempts=10))
            for _ in range(20):
                assert client.describe_leads()
            runs.append([e.codes for e in describe_calls(sandbox)])
            assert sandbox.random_faults.drawn > 0
        finally:
            sandbox.stop()
    assert runs[0] == runs[1]  # the same seed fails the same calls
    assert sum(1 for codes in runs[0] if not codes) == 20


def test_faults_can_target_one_endpoint(sandbox, client, sleeps):
    sandbox.fail_next(1, code=604, path=r"/rest/v1/lists\.json", after=1)
    client.describe_leads()
    client.get_lists(name="x")
    client.get_lists(name="y")
    lists = sandbox.journal.filter(path=r"/rest/v1/lists\.json")
    assert [e.codes for e in lists] == [(), ("604",), ()]
    assert describe_calls(sandbox)[0].codes == ()


def test_latency_per_endpoint(sandbox, http_session):
    sandbox.set_latency(0.3, path=DESCRIBE)
    import time

    started = time.monotonic()
    http_session.get(f"{sandbox.url}/rest/v1/lists.json")
    fast = time.monotonic() - started
    started = time.monotonic()
    http_session.get(f"{sandbox.url}/rest/v1/leads/describe.json")
    assert time.monotonic() - started >= 0.3 > fast
    sandbox.set_latency(0, path=DESCRIBE)
    assert sandbox.path_latency == []


# -- fatal failures are raised as they are ------------------------------------------------------------
@pytest.mark.parametrize("code, message", [
    ("603", "Access denied"), ("605", "Request method 'PUT' not supported"), ("609", "Invalid JSON"),
    ("610", "Requested resource not found"), ("612", "Invalid Content Type"), ("616", "Invalid subscription type"),
    ("1003", "Invalid data"), ("1013", "Object not found"),
])
def test_fatal_codes_are_raised_with_code_and_message_and_not_retried(sandbox, client, sleeps, code, message):
    sandbox.fail_next(1, code=code, message=message)
    with pytest.raises(MarketoError) as caught:
        client.describe_leads()
    assert type(caught.value) is MarketoError
    assert caught.value.code == code and caught.value.message == message and caught.value.request_id
    assert len(describe_calls(sandbox)) == 1 and sleeps == []


def test_bad_credentials_from_identity_are_an_auth_error(sandbox, client, sleeps):
    sandbox.fail_identity_next(1, http_status=401)
    with pytest.raises(MarketoAuthError) as caught:
        client.describe_leads()
    assert caught.value.code == "invalid_client" and sleeps == []


# -- quota and budget -----------------------------------------------------------------------------------
def test_607_raises_quota_exhausted_and_no_further_call_goes_out():
    sandbox = start_sandbox(seed=False, daily_quota=3)
    try:
        client = MarketoClient.from_connection(sandbox.connection, sleep=lambda s: None)
        for _ in range(3):
            client.describe_leads()
        with pytest.raises(MarketoQuotaExhausted) as caught:
            client.describe_leads()
        assert caught.value.code == "607"
        before = len(sandbox.journal)
        with pytest.raises(MarketoQuotaExhausted):
            client.get_lists(name="anything")
        assert len(sandbox.journal) == before  # refused without calling
        assert sandbox.usage == 3
    finally:
        sandbox.stop()


def test_budget_guard_stops_before_the_budget_is_exceeded(sandbox, make_client):
    sandbox.set_usage(1000)  # other integrations already used 1000 calls today
    client = make_client(daily_budget=1005)
    for _ in range(5):
        client.describe_leads()
    with pytest.raises(MarketoQuotaExhausted) as caught:
        client.describe_leads()
    assert caught.value.code == "daily-budget"
    assert len(describe_calls(sandbox)) == 5 and sandbox.usage == 1005
    assert sandbox.journal.count(path=r"/rest/v1/stats/usage\.json") == 1


def test_budget_guard_rereads_usage_and_notices_other_integrations(sandbox, make_client):
    client = make_client(daily_budget=500, budget_check_every=4)
    for _ in range(6):
        client.describe_leads()
    assert sandbox.journal.count(path=r"/rest/v1/stats/usage\.json") == 2  # at the start and after 4 calls
    sandbox.set_usage(490)  # another integration is busy
    with pytest.raises(MarketoQuotaExhausted):
        for _ in range(10):
            client.describe_leads()
    assert sandbox.usage <= 500


def test_usage_reads_count_nothing_and_are_not_hit_by_scripted_faults(sandbox, client):
    sandbox.fail_next(1, code=604)
    assert client.usage_today() == 0
    assert client.describe_leads()
    assert describe_calls(sandbox)[0].codes == ("604",) and client.usage_today() == 1


# -- tokens ------------------------------------------------------------------------------------------------
def test_token_with_a_short_ttl_is_renewed_between_two_calls(clock):
    sandbox = start_sandbox(seed=False, clock=clock, token_ttl=2)
    try:
        client = MarketoClient.from_connection(sandbox.connection, clock=clock, sleep=clock.sleep)
        client.describe_leads()
        clock.advance(3)
        client.describe_leads()
        tokens = [e.response["access_token"] for e in sandbox.journal.filter(path="/identity/oauth/token")]
        assert len(tokens) == 2 and tokens[0] != tokens[1]
        assert sandbox.journal.count(code="602") == 0
    finally:
        sandbox.stop()


def test_token_expired_between_two_calls_is_refreshed_and_replayed(sandbox, client, sleeps):
    client.describe_leads()
    sandbox.expire_token()
    client.get_lists(name="x")
    assert [e.codes for e in sandbox.journal.filter(path=r"/rest/v1/lists\.json")] == [("602",), ()]
    assert sleeps == []


def test_identity_outage_is_retried(sandbox, client, sleeps):
    sandbox.fail_identity_next(2, http_status=502)
    assert client.describe_leads()
    assert [e.status for e in sandbox.journal.filter(path="/identity/oauth/token")] == [502, 502, 200]


# -- requests that must not run twice ------------------------------------------------------------------------
def test_a_campaign_request_is_not_replayed_when_marketo_may_have_run_it(sandbox, client, sleeps):
    sandbox.fail_next(1, http_status=502, path=r"/rest/v1/campaigns/\d+/trigger\.json")
    with pytest.raises(MarketoError) as caught:
        client.trigger_campaign(CONFIRMATION_CAMPAIGN, [1, 2])
    assert caught.value.code == "502" and "not retried" in caught.value.message
    assert sandbox.journal.count(path=r"/rest/v1/campaigns/\d+/trigger\.json") == 1 and sleeps == []


def test_a_campaign_request_refused_before_running_is_retried(sandbox, client):
    sandbox.fail_next(1, code=615, path=r"/rest/v1/campaigns/\d+/trigger\.json")
    sandbox.fail_next(1, code=606, path=r"/rest/v1/campaigns/\d+/trigger\.json")
    client.trigger_campaign(CONFIRMATION_CAMPAIGN, [1, 2])
    assert [run.lead_ids for run in sandbox.campaign_runs] == [(1, 2)]


@pytest.fixture
def http_session(sandbox):
    session = requests.Session()
    token = session.get(f"{sandbox.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    return session


def test_1029_is_quota_exhausted_without_retry_but_stops_nothing_else(sandbox, client, sleeps):
    sandbox.fail_next(1, code=1029, message="Export daily quota 500MB exceeded")
    with pytest.raises(MarketoQuotaExhausted) as caught:
        client.describe_leads()
    assert caught.value.code == "1029" and sleeps == [] and len(describe_calls(sandbox)) == 1
    assert client.describe_leads()  # a bulk quota is not the daily API quota
