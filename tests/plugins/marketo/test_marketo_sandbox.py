"""The Marketo sandbox as a raw HTTP client sees it: envelopes, auth, paging, errors, seed data."""
from __future__ import annotations

import re
from collections import Counter

import pytest
import requests

from connectors_marketo.sandbox import INVITEES_LIST, MarketoSandbox, seed_demo, start_sandbox


@pytest.fixture
def http(sandbox):
    """A plain requests session with a valid Bearer token for the sandbox."""
    session = requests.Session()
    token = session.get(f"{sandbox.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    session.base = f"{sandbox.url}/rest"
    return session


def get(http, path, **params):
    response = http.get(http.base + path, params=params)
    assert response.status_code == 200
    return response.json()


def invitees(sandbox):
    return sandbox.find_list(INVITEES_LIST)["id"]


# -- identity ---------------------------------------------------------------------------------
def test_identity_returns_the_same_token_with_its_remaining_lifetime(sandbox):
    url = f"{sandbox.url}/identity/oauth/token"
    creds = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
    first = requests.get(url, params=creds).json()
    second = requests.post(url, data=creds).json()
    assert first["token_type"] == "bearer" and 3590 <= first["expires_in"] <= 3600
    assert second["access_token"] == first["access_token"] and second["expires_in"] <= first["expires_in"]
    assert set(first) == {"access_token", "token_type", "expires_in", "scope"}
    sandbox.expire_token()
    assert requests.get(url, params=creds).json()["access_token"] != first["access_token"]


def test_identity_rejects_bad_credentials_with_401(sandbox):
    response = requests.get(f"{sandbox.url}/identity/oauth/token",
                            params={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "x"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Bad client credentials"}


def test_identity_needs_the_client_credentials_grant(sandbox):
    response = requests.post(f"{sandbox.url}/identity/oauth/token",
                             data={"client_id": "demo-client", "client_secret": "demo-secret"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_token_ttl_is_configurable(sandbox):
    sandbox.token_ttl = 2
    sandbox.expire_token()
    body = requests.get(f"{sandbox.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}).json()
    assert body["expires_in"] <= 2


# -- auth and envelope ----------------------------------------------------------------------
def test_missing_unknown_and_expired_tokens(sandbox, http):
    url = f"{sandbox.url}/rest/v1/leads/describe.json"
    missing = requests.get(url)
    assert missing.status_code == 200
    body = missing.json()
    assert body["success"] is False and body["errors"] == [{"code": "601", "message": "Access token invalid"}]
    assert re.fullmatch(r"[0-9a-f]+#[0-9a-f]+", body["requestId"]) and "result" not in body
    assert requests.get(url, headers={"Authorization": "Bearer nope"}).json()["errors"][0]["code"] == "601"
    sandbox.expire_token()
    assert http.get(url).json()["errors"][0]["code"] == "602"


def test_access_token_query_parameter_is_refused_unless_allowed(sandbox, http):
    token = http.headers["Authorization"].split()[1]
    url = f"{sandbox.url}/rest/v1/leads/describe.json"
    assert requests.get(url, params={"access_token": token}).json()["errors"][0]["code"] == "601"
    sandbox.accept_access_token_param = True
    assert requests.get(url, params={"access_token": token}).json()["success"] is True


def test_unknown_path_is_610_and_wrong_method_605(http):
    assert get(http, "/v1/nothing.json")["errors"][0]["code"] == "610"
    assert http.delete(http.base + "/v1/lists.json").json()["errors"][0]["code"] == "605"


def test_uri_over_8kb_is_414_text(http):
    response = http.get(http.base + "/v1/leads.json", params={"filterType": "email", "filterValues": "x" * 9000})
    assert response.status_code == 414 and not response.headers["Content-Type"].startswith("application/json")


def test_describe_lists_standard_and_custom_fields(http):
    body = get(http, "/v1/leads/describe.json")
    names = {f["rest"]["name"]: f for f in body["result"]}
    for name in ("id", "email", "firstName", "lastName", "company", "title", "phone", "city", "state",
                 "postalCode", "country", "createdAt", "updatedAt", "certainAttendeeId"):
        assert name in names
    assert names["id"]["rest"]["readOnly"] is True and names["email"]["dataType"] == "email"
    assert names["certainAttendeeId"]["dataType"] == "string"
    assert "nextPageToken" not in body
    (api_lead,) = get(http, "/v1/leads/describe2.json")["result"]
    assert ["email"] in api_lead["searchableFields"] and ["firstName"] not in api_lead["searchableFields"]


# -- lists -------------------------------------------------------------------------------------
def test_lists_filter_by_name_and_id_and_page(sandbox, http):
    (found,) = get(http, "/v1/lists.json", name=INVITEES_LIST)["result"]
    assert set(found) == {"id", "name", "description", "programName", "workspaceName", "createdAt", "updatedAt"}
    assert [r["id"] for r in get(http, "/v1/lists.json", id=str(found["id"]))["result"]] == [found["id"]]
    both = http.get(http.base + "/v1/lists.json", params=[("id", found["id"]), ("id", found["id"] + 1)]).json()
    assert len(both["result"]) == 2
    page1 = get(http, "/v1/lists.json", batchSize=3)
    assert len(page1["result"]) == 3 and page1["nextPageToken"]
    page2 = get(http, "/v1/lists.json", batchSize=3, nextPageToken=page1["nextPageToken"])
    assert len(page2["result"]) == 1 and "nextPageToken" not in page2


def test_one_list_and_unknown_list(sandbox, http):
    assert get(http, f"/v1/lists/{invitees(sandbox)}.json")["result"][0]["name"] == INVITEES_LIST
    body = get(http, "/v1/lists/424242.json")
    assert body["success"] is False and body["errors"][0]["code"] == "1013"


def test_members_default_fields_omit_nulls_and_page(sandbox, http):
    body = get(http, f"/v1/lists/{invitees(sandbox)}/leads.json")
    assert len(body["result"]) == 300 and body["nextPageToken"]
    assert set().union(*body["result"]) <= {"id", "email", "updatedAt", "createdAt", "firstName", "lastName"}
    assert any("email" not in r for r in get(http, f"/v1/lists/{invitees(sandbox)}/leads.json",
                                            nextPageToken=body["nextPageToken"])["result"] + body["result"])


def test_members_legacy_path_and_post_method_get_match(sandbox, http):
    list_id = invitees(sandbox)
    current = get(http, f"/v1/lists/{list_id}/leads.json", fields="email,company", batchSize=50)
    legacy = get(http, f"/v1/list/{list_id}/leads.json", fields="email,company", batchSize=50)
    posted = http.post(http.base + f"/v1/list/{list_id}/leads.json", params={"_method": "GET"},
                       data={"fields": "email,company", "batchSize": "50"}).json()
    assert current["result"] == legacy["result"] == posted["result"]
    last = sandbox.journal.last()
    assert last.method == "POST" and last.param("_method") == "GET" and last.body["fields"] == ["email,company"]


def test_members_reject_big_batches_unknown_fields_and_bad_tokens(sandbox, http):
    path = f"/v1/lists/{invitees(sandbox)}/leads.json"
    assert get(http, path, batchSize=301)["errors"][0]["code"] == "1003"
    assert get(http, path, fields="email,shoeSize")["errors"][0]["code"] == "1006"
    assert get(http, path, nextPageToken="garbage")["errors"][0]["code"] == "1003"
    assert get(http, "/v1/lists/424242/leads.json")["errors"][0]["code"] == "1013"


def test_members_added_between_pages_are_not_lost_or_repeated(sandbox, http):
    roster = sandbox.add_list("Small", [])
    early = [sandbox.add_lead(email=f"p{i}@example.com")["id"] for i in range(4)]
    sandbox.add_to_list(roster["id"], early)
    page1 = get(http, f"/v1/lists/{roster['id']}/leads.json", batchSize=2)
    late = sandbox.add_lead(email="late@example.com")["id"]
    sandbox.add_to_list(roster["id"], [late])
    page2 = get(http, f"/v1/lists/{roster['id']}/leads.json", batchSize=2, nextPageToken=page1["nextPageToken"])
    page3 = get(http, f"/v1/lists/{roster['id']}/leads.json", batchSize=2, nextPageToken=page2["nextPageToken"])
    ids = [r["id"] for page in (page1, page2, page3) for r in page["result"]]
    assert ids == early + [late] and "nextPageToken" not in page3


# -- leads -------------------------------------------------------------------------------------
def test_leads_by_email_ignore_case_and_find_duplicates(sandbox, http):
    counts = Counter(lead["email"] for lead in sandbox.leads if lead.get("email"))
    duplicate = next(email for email, n in counts.items() if n == 2)
    body = get(http, "/v1/leads.json", filterType="email", filterValues=duplicate.upper() + ",nobody@example.com",
               fields="email,company")
    assert [r["email"] for r in body["result"]] == [duplicate, duplicate]
    assert get(http, "/v1/leads.json", filterType="email", filterValues="nobody@example.com")["result"] == []


def test_leads_by_id_and_one_lead(sandbox, http):
    body = get(http, "/v1/leads.json", filterType="id", filterValues="1,2,999999")
    assert [r["id"] for r in body["result"]] == [1, 2]
    assert get(http, "/v1/lead/3.json", fields="company")["result"][0]["company"] == sandbox.get_lead(3)["company"]
    assert get(http, "/v1/lead/999999.json")["result"] == []


def test_leads_filter_rules(http):
    assert get(http, "/v1/leads.json", filterType="firstName", filterValues="Emma")["errors"][0]["code"] == "1011"
    many = ",".join(str(i) for i in range(301))
    assert http.post(http.base + "/v1/leads.json", params={"_method": "GET"},
                     data={"filterType": "id", "filterValues": many}).json()["errors"][0]["code"] == "1003"


# -- faults and limits -------------------------------------------------------------------------
def test_injected_faults_come_in_order_and_use_no_quota(sandbox, http):
    sandbox.fail_next(1, code=606)
    sandbox.fail_next(1, http_status=502)
    first = http.get(http.base + "/v1/leads/describe.json")
    assert first.json()["errors"][0] == {"code": "606", "message": "Max rate limit '100' exceeded with in '20' secs"}
    second = http.get(http.base + "/v1/leads/describe.json")
    assert second.status_code == 502 and second.headers["Content-Type"] == "text/html" and "<html>" in second.text
    assert http.get(http.base + "/v1/leads/describe.json").json()["success"] is True
    assert sandbox.usage == 1
    assert [e.codes for e in sandbox.journal.filter(path=r"/rest/.*")] == [("606",), ("502",), ()]
    with pytest.raises(ValueError):
        sandbox.fail_next(1)


def test_real_rate_limit_and_daily_quota():
    sandbox = start_sandbox(seed=False, rate_limit=(2, 20.0), daily_quota=3)
    try:
        s = requests.Session()
        token = s.get(f"{sandbox.url}/identity/oauth/token", params={
            "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
        ).json()["access_token"]
        s.headers["Authorization"] = f"Bearer {token}"
        codes = [s.get(f"{sandbox.url}/rest/v1/leads/describe.json").json().get("errors", [{}])[0].get("code")
                 for _ in range(3)]
        assert codes == [None, None, "606"]
        sandbox.rate_window.reset()
        codes = [s.get(f"{sandbox.url}/rest/v1/leads/describe.json").json().get("errors", [{}])[0].get("code")
                 for _ in range(2)]
        assert codes == [None, "607"]
    finally:
        sandbox.stop()


# -- seed data ----------------------------------------------------------------------------------
def test_demo_seed_is_realistic_and_deterministic():
    first, second = MarketoSandbox(), MarketoSandbox()
    lists = seed_demo(first)
    seed_demo(second)
    assert first.leads == second.leads
    assert len(lists) >= 3
    members = [first.get_lead(i) for i in first.list_members(lists[INVITEES_LIST])]
    assert len(members) == 520
    without_email = [m for m in members if not m.get("email")]
    assert 10 <= len(without_email) <= 21  # about 3%
    counts = Counter(m["email"] for m in members if m.get("email"))
    assert 5 <= sum(1 for n in counts.values() if n > 1) <= 12  # about 2% of leads are duplicates
    for field in ("firstName", "lastName", "company", "city", "country"):
        assert all(m.get(field) for m in members), field
        assert len({m[field] for m in members}) > 10, field
    assert sum(1 for m in members if m.get("phone")) > 300 and sum(1 for m in members if m.get("title")) > 400
    assert all(m["email"].isascii() for m in members if m.get("email"))
    assert any(not m["firstName"].isascii() or not m["lastName"].isascii() for m in members)
