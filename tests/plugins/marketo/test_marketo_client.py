"""MarketoClient against the sandbox over real HTTP: tokens, paging, retries, error classes."""
from __future__ import annotations

import threading

import pytest

from connectors_marketo.client import MarketoClient, endpoints_for_munchkin, join_url
from connectors_marketo.errors import MarketoAuthError, MarketoError, MarketoQuotaExhausted
from connectors_marketo.ratelimit import RATE_LIMITERS
from connectors_marketo.retry import RetryPolicy
from connectors_marketo.sandbox import INVITEES_LIST, start_sandbox

FIELDS = ["email", "firstName", "lastName", "company"]


@pytest.fixture(autouse=True)
def fresh_limiters():
    """Limiters are shared per instance for the whole process: start each test with none."""
    RATE_LIMITERS.clear()
    yield
    RATE_LIMITERS.clear()


def identity_calls(sandbox):
    return sandbox.journal.filter(path=r"/identity/.*")


def rest_calls(sandbox):
    """REST calls but the budget guard's usage reads."""
    return sandbox.journal.filter(path=r"/rest/(?!v1/stats/).*")


def invitees_id(sandbox):
    return sandbox.find_list(INVITEES_LIST)["id"]


# -- tokens ---------------------------------------------------------------------------------
def test_one_identity_call_serves_many_requests_with_a_bearer_header(sandbox, client):
    for _ in range(5):
        client.describe_leads()
    client.get_lists(name=INVITEES_LIST)
    assert len(identity_calls(sandbox)) == 1
    calls = rest_calls(sandbox)
    assert len(calls) == 6
    token = identity_calls(sandbox)[0].response["access_token"]
    assert all(e.header("Authorization") == f"Bearer {token}" for e in calls)
    assert not any("access_token" in e.query or (isinstance(e.body, dict) and "access_token" in e.body) for e in calls)


def test_clients_of_one_api_user_share_the_token(sandbox, make_client):
    make_client().describe_leads()
    make_client().describe_leads()
    assert len(identity_calls(sandbox)) == 1


def test_concurrent_first_calls_fetch_one_token(sandbox, make_client):
    clients = [make_client() for _ in range(8)]
    threads = [threading.Thread(target=c.describe_leads) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(identity_calls(sandbox)) == 1 and len(rest_calls(sandbox)) == 8


def test_expired_token_602_is_refreshed_and_the_request_replayed(sandbox, client):
    client.describe_leads()
    sandbox.expire_token()
    fields = client.describe_leads()
    assert fields
    assert [e.codes for e in rest_calls(sandbox)] == [(), ("602",), ()]
    first, second = (e.response["access_token"] for e in identity_calls(sandbox))
    assert first != second


def test_revoked_token_601_is_refreshed_and_the_request_replayed(sandbox, client):
    client.describe_leads()
    sandbox.revoke_token()
    assert client.describe_leads()
    assert [e.codes for e in rest_calls(sandbox)] == [(), ("601",), ()]
    assert len(identity_calls(sandbox)) == 2


def test_token_refused_twice_is_not_replayed_again(sandbox, client, sleeps):
    sandbox.fail_next(2, code="601")
    with pytest.raises(MarketoError) as caught:
        client.describe_leads()
    assert caught.value.code == "601" and not isinstance(caught.value, MarketoQuotaExhausted)
    assert len(rest_calls(sandbox)) == 2 and sleeps == []


def test_token_is_refreshed_before_its_last_minute(clock):
    sandbox = start_sandbox(seed=False, clock=clock)
    try:
        client = MarketoClient.from_connection(sandbox.connection, clock=clock, sleep=clock.sleep)
        client.describe_leads()
        clock.advance(3545)  # 55 s left: refresh proactively
        client.describe_leads()
        assert len(identity_calls(sandbox)) == 2
        # Marketo gave back the same token with 55 s left: use it to the end, don't ask on every call
        assert identity_calls(sandbox)[1].response["expires_in"] < 60
        client.describe_leads()
        assert len(identity_calls(sandbox)) == 2
        clock.advance(60)  # now expired: a new token before the call, so no 602 round trip
        client.describe_leads()
        assert len(identity_calls(sandbox)) == 3
        assert not sandbox.journal.filter(code="602")
    finally:
        sandbox.stop()


def test_bad_credentials_raise_auth_error(sandbox, sleeps):
    client = MarketoClient.from_connection(dict(sandbox.connection, client_secret="wrong"), sleep=sleeps.append)
    with pytest.raises(MarketoAuthError) as caught:
        client.describe_leads()
    assert caught.value.code == "invalid_client" and "Bad client credentials" in caught.value.message
    assert rest_calls(sandbox) == [] and sleeps == []


def test_identity_5xx_is_retried(sandbox, client, sleeps):
    sandbox.fail_identity_next(1, http_status=503)
    assert client.describe_leads()
    assert [e.status for e in identity_calls(sandbox)] == [503, 200] and len(sleeps) == 1


# -- paging ------------------------------------------------------------------------------------
def test_paging_520_members_by_100_yields_each_exactly_once(sandbox, client):
    pages = list(client.iter_list_members(invitees_id(sandbox), FIELDS, batch_size=100))
    assert [len(p.records) for p in pages] == [100, 100, 100, 100, 100, 20]
    ids = [r["id"] for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 520
    assert sorted(ids) == sandbox.list_members(invitees_id(sandbox))
    assert all(p.next_page_token for p in pages[:-1]) and pages[-1].next_page_token is None
    calls = rest_calls(sandbox)
    assert [e.param("batchSize") for e in calls] == ["100"] * 6
    assert [e.param("nextPageToken") for e in calls[1:]] == [p.next_page_token for p in pages[:-1]]


def test_paging_resumes_from_a_saved_token(sandbox, client):
    first_two = []
    for page in client.iter_list_members(invitees_id(sandbox), FIELDS, batch_size=200):
        first_two.append(page)
        break
    checkpoint = first_two[0].next_page_token
    rest = list(client.iter_list_members(invitees_id(sandbox), FIELDS, batch_size=200, next_page_token=checkpoint))
    ids = [r["id"] for p in first_two + rest for r in p.records]
    assert len(ids) == len(set(ids)) == 520


def test_get_lists_by_name_and_ids(sandbox, client):
    (found,) = client.get_lists(name=INVITEES_LIST)
    assert found["name"] == INVITEES_LIST
    assert client.get_lists(name="No such list") == []
    assert [r["id"] for r in client.get_lists(ids=[found["id"]])] == [found["id"]]
    assert len(client.get_lists(batch_size=1)) == 4  # every page followed
    assert client.get_list(found["id"])["name"] == INVITEES_LIST


def test_batch_size_is_checked_before_calling():
    client = MarketoClient("id", "secret", munchkin_id="284-RPR-133")
    with pytest.raises(ValueError):
        list(client.iter_list_members(1, FIELDS, batch_size=301))


# -- retries and errors ------------------------------------------------------------------------
def test_606_waits_for_the_rate_window_then_succeeds(sandbox, client, sleeps):
    sandbox.fail_next(2, code="606")
    assert client.describe_leads()
    assert [e.codes for e in rest_calls(sandbox)] == [("606",), ("606",), ()]
    assert len(sleeps) == 2 and all(s >= 1 for s in sleeps)


def test_606_that_outlasts_the_retries_is_quota_exhausted(sandbox, make_client):
    client = make_client(retry=RetryPolicy(max_attempts=3))
    sandbox.fail_next(5, code="606")
    with pytest.raises(MarketoQuotaExhausted) as caught:
        client.describe_leads()
    assert caught.value.code == "606" and len(rest_calls(sandbox)) == 3


def test_real_rate_limit_is_waited_out(clock):
    sandbox = start_sandbox(seed=False, clock=clock, rate_limit=(3, 20.0))
    try:
        client = MarketoClient.from_connection(sandbox.connection, clock=clock, sleep=clock.sleep,
                                               calls_per_window=None)
        for _ in range(5):
            client.describe_leads()
        assert len(sandbox.journal.filter(code="606")) == 1
        assert clock.sleeps and 19 <= clock.sleeps[0] <= 21
    finally:
        sandbox.stop()


def test_client_paces_itself_under_its_call_budget(sandbox, make_client, clock):
    client = make_client(clock=clock, sleep=clock.sleep, calls_per_window=2, daily_budget=None)
    for _ in range(3):
        client.describe_leads()
        clock.advance(1)
    assert clock.sleeps == [18]  # third call waits until the first leaves the 20 s window
    assert not sandbox.journal.filter(code="606")


def test_http_502_with_html_body_is_retried(sandbox, client, sleeps):
    sandbox.fail_next(1, http_status=502)
    assert client.get_lists(name=INVITEES_LIST)
    first = rest_calls(sandbox)[0]
    assert first.status == 502 and "Bad Gateway" in first.response
    assert len(rest_calls(sandbox)) == 2 and len(sleeps) == 1


def test_backoff_grows_exponentially_with_jitter(sandbox, make_client, sleeps):
    client = make_client(retry=RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=60))
    sandbox.fail_next(1, http_status=500)
    sandbox.fail_next(1, code="604")
    sandbox.fail_next(1, code="611")
    sandbox.fail_next(1, code="608")
    assert client.describe_leads()
    assert len(sleeps) == 4
    for attempt, waited in enumerate(sleeps, start=1):
        assert 2 ** (attempt - 1) / 2 <= waited <= 2 ** (attempt - 1)


def test_dropped_connection_is_retried(sandbox, client, sleeps):
    sandbox.fail_next(1, drop_connection=True)
    assert client.describe_leads()
    assert len(sleeps) == 1


def test_retries_are_bounded(sandbox, make_client):
    client = make_client(retry=RetryPolicy(max_attempts=3))
    sandbox.fail_next(3, http_status=500)
    with pytest.raises(MarketoError) as caught:
        client.describe_leads()
    assert caught.value.code == "500" and len(rest_calls(sandbox)) == 3


def test_fatal_1013_is_raised_with_its_code_and_not_retried(sandbox, client, sleeps):
    with pytest.raises(MarketoError) as caught:
        client.get_list(999999)
    assert caught.value.code == "1013" and caught.value.request_id and "#" in caught.value.request_id
    assert len(rest_calls(sandbox)) == 1 and sleeps == []
    with pytest.raises(MarketoError) as caught:
        list(client.iter_list_members(999999, FIELDS))
    assert caught.value.code == "1013"


def test_daily_quota_607_raises_quota_exhausted():
    sandbox = start_sandbox(seed=False, daily_quota=2)
    try:
        client = MarketoClient.from_connection(sandbox.connection, sleep=lambda s: None)
        client.describe_leads()
        client.describe_leads()
        with pytest.raises(MarketoQuotaExhausted) as caught:
            client.describe_leads()
        assert caught.value.code == "607" and len(sandbox.journal.filter(code="607")) == 1
    finally:
        sandbox.stop()


def test_read_timeout_is_retried_then_reported(sandbox, make_client, sleeps):
    sandbox.latency = 0.3
    client = make_client(timeout=(1.0, 0.05), retry=RetryPolicy(max_attempts=2), daily_budget=None)
    make_client().access_token()  # identity is slow too: a patient client fetches the shared token
    with pytest.raises(MarketoError) as caught:
        client.describe_leads()
    assert caught.value.code == "connection" and len(sleeps) == 1


# -- URLs ---------------------------------------------------------------------------------------
def test_long_queries_go_as_post_with_method_get(sandbox, client):
    emails = [f"somebody.with.a.rather.long.address.{i}@example.com" for i in range(200)]
    target = sandbox.leads[0]["email"]
    found = client.get_leads("email", emails + [target], fields=["email", "company"])
    assert target in {r["email"] for r in found}
    call = rest_calls(sandbox)[-1]
    assert call.method == "POST" and call.param("_method") == "GET"
    assert call.body["filterType"] == ["email"] and target in call.body["filterValues"][0]


def test_short_queries_stay_get(sandbox, client):
    client.get_leads("email", ["a@b.com"])
    assert rest_calls(sandbox)[-1].method == "GET"


def test_paths_are_joined_without_double_slashes(sandbox, sleeps):
    conn = dict(sandbox.connection, rest_endpoint=sandbox.connection["rest_endpoint"] + "/")
    client = MarketoClient.from_connection(conn, sleep=sleeps.append)
    client.request("GET", "//v1//leads/describe.json")
    assert rest_calls(sandbox)[-1].path == "/rest/v1/leads/describe.json"
    assert join_url("https://x/rest/", "/v1/a.json") == "https://x/rest/v1/a.json"


def test_munchkin_id_gives_the_endpoints():
    assert endpoints_for_munchkin("284-RPR-133") == ("https://284-RPR-133.mktorest.com/rest",
                                                     "https://284-RPR-133.mktorest.com/identity")
    client = MarketoClient("id", "secret", munchkin_id="284-RPR-133")
    assert client.rest_endpoint == "https://284-RPR-133.mktorest.com/rest"
    assert client.timeout == (10.0, 300.0)
    with pytest.raises(ValueError):
        MarketoClient("id", "secret")


def test_send_raw_goes_through_budget_limiter_and_token(sandbox, make_client):
    client = make_client(daily_budget=2)
    response = client.send_raw("GET", f"{sandbox.rest_endpoint}/v1/leads/describe.json")
    assert response.json()["success"] is True
    assert rest_calls(sandbox)[-1].header("Authorization").startswith("Bearer ")
    assert client.limiter.calls_in_window() == 2  # the usage read and the raw call
    client.describe_leads()
    with pytest.raises(MarketoQuotaExhausted):
        client.send_raw("GET", f"{sandbox.rest_endpoint}/v1/leads/describe.json")
