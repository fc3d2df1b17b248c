"""The sandbox's login host and pods over raw HTTP (spec §1, §7.1): /id, OAuth grants, single-use
refresh tokens, token expiry and pod moves — what any Eloqua client, not only ours, must meet."""
from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import requests

from .support import login_calls

CONTACTS = "/api/REST/1.0/data/contacts"


def basic(site="DemoCompany", user="demo.user", password="demo-password"):
    return {"Authorization": "Basic " + base64.b64encode(f"{site}\\{user}:{password}".encode()).decode()}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def token(sandbox, data, client=("demo-client", "demo-secret"), json=False):
    url = f"{sandbox.url}/auth/oauth2/token"
    return requests.post(url, auth=client, timeout=5, **({"json": data} if json else {"data": data}))


def password_grant(sandbox):
    return token(sandbox, {"grant_type": "password", "scope": "full", "username": "DemoCompany\\demo.user",
                           "password": "demo-password"}).json()


# -- /id ----------------------------------------------------------------------------------------------
def test_id_names_the_pod_with_basic_and_bearer(sandbox):
    body = requests.get(f"{sandbox.url}/id", headers=basic(), timeout=5).json()
    assert body["site"] == {"id": 42, "name": "DemoCompany"}
    assert body["user"]["username"] == "demo.user"
    assert body["urls"]["base"] == sandbox.pod_url() != sandbox.url
    assert body["urls"]["apis"]["rest"]["standard"] == f"{sandbox.pod_url()}/API/REST/{{version}}/"
    assert body["urls"]["apis"]["rest"]["bulk"] == f"{sandbox.pod_url()}/API/Bulk/{{version}}/"
    tokens = password_grant(sandbox)
    assert requests.get(f"{sandbox.url}/ID", headers=bearer(tokens["access_token"]), timeout=5).json() == body
    assert [e.auth for e in login_calls(sandbox, "GET")] == ["basic", "bearer"]


def test_id_answers_not_authenticated_with_200_for_bad_credentials(sandbox):
    for headers in (basic(password="wrong"), basic(site="OtherCo"), bearer("nope"), {}):
        answer = requests.get(f"{sandbox.url}/id", headers=headers, timeout=5)
        assert (answer.status_code, answer.json()) == (200, "Not authenticated.")
    sandbox.disable_user("demo.user")
    assert requests.get(f"{sandbox.url}/id", headers=basic(), timeout=5).json() == "Not authenticated."
    sandbox.disable_user("demo.user", False)
    sandbox.block_caller_ip()
    assert requests.get(f"{sandbox.url}/id", headers=basic(), timeout=5).json() == "Not authenticated."
    sandbox.block_caller_ip(False)
    sandbox.refuse_id_next(1, status=401)
    refused = requests.get(f"{sandbox.url}/id", headers=basic(), timeout=5)
    assert (refused.status_code, refused.json()) == (401, "Not authenticated.")
    assert requests.get(f"{sandbox.url}/id", headers=basic(), timeout=5).json()["site"]["name"] == "DemoCompany"


# -- OAuth ---------------------------------------------------------------------------------------------
def test_refresh_tokens_rotate_and_the_old_one_is_refused(sandbox):
    first = password_grant(sandbox)
    assert first["token_type"] == "bearer" and first["expires_in"] == 28800
    second = token(sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "full"})
    assert second.status_code == 200 and second.headers["Cache-Control"] == "no-store"
    assert second.json()["refresh_token"] != first["refresh_token"]
    again = token(sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    third = token(sandbox, {"grant_type": "refresh_token", "refresh_token": second.json()["refresh_token"]}, json=True)
    assert third.status_code == 200  # JSON bodies are accepted too
    pod = sandbox.pod_url()
    # before release 26B a refresh revokes the access token it replaces
    assert requests.get(pod + CONTACTS, headers=bearer(first["access_token"]), timeout=5).status_code == 401
    assert requests.get(pod + CONTACTS, headers=bearer(third.json()["access_token"]), timeout=5).status_code == 200


def test_token_endpoint_refusals(sandbox):
    grant = {"grant_type": "refresh_token", "refresh_token": password_grant(sandbox)["refresh_token"]}
    bad_client = token(sandbox, grant, client=("demo-client", "wrong"))
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    assert requests.post(f"{sandbox.url}/auth/oauth2/token", data=grant, timeout=5).status_code == 401
    unknown = token(sandbox, {"grant_type": "client_credentials"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")
    wrong_password = token(sandbox, {"grant_type": "password", "username": "DemoCompany\\demo.user", "password": "x"})
    assert (wrong_password.status_code, wrong_password.json()["error"]) == (400, "invalid_grant")
    sandbox.expire_refresh_tokens()
    expired = token(sandbox, grant)
    assert (expired.status_code, expired.json()["error"]) == (401, "invalid_grant")


def test_authorization_code_grant(sandbox):
    answer = requests.get(f"{sandbox.url}/auth/oauth2/authorize", params={
        "response_type": "code", "client_id": "demo-client", "redirect_uri": "https://app.example/cb", "state": "s1"},
        allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    issued = token(sandbox, {"grant_type": "authorization_code", "code": query["code"][0],
                             "redirect_uri": "https://app.example/cb"})
    assert issued.status_code == 200 and issued.json()["refresh_token"]
    reused = token(sandbox, {"grant_type": "authorization_code", "code": query["code"][0]})
    assert reused.status_code == 400


def test_access_tokens_expire_on_the_sandbox_clock(sandbox):
    sandbox.access_ttl = 60
    issued = password_grant(sandbox)
    assert issued["expires_in"] == 60
    pod = sandbox.pod_url()
    assert requests.get(pod + CONTACTS, headers=bearer(issued["access_token"]), timeout=5).status_code == 200
    sandbox.advance(61)
    assert requests.get(pod + CONTACTS, headers=bearer(issued["access_token"]), timeout=5).status_code == 401
    assert requests.get(f"{sandbox.url}/id", headers=bearer(issued["access_token"]), timeout=5).json() == \
        "Not authenticated."


# -- pods ----------------------------------------------------------------------------------------------
def test_a_pod_move_makes_the_old_pod_answer_401_and_id_name_the_new_one(sandbox):
    old = sandbox.pod_url()
    assert requests.get(old + CONTACTS, headers=basic(), timeout=5).status_code == 200
    assert sandbox.move_site() == "p02"
    assert requests.get(old + CONTACTS, headers=basic(), timeout=5).status_code == 401
    new = requests.get(f"{sandbox.url}/id", headers=basic(), timeout=5).json()["urls"]["base"]
    assert new == sandbox.pod_url("p02") != old
    assert requests.get(new + CONTACTS, headers=basic(), timeout=5).status_code == 200
    assert {e.host for e in sandbox.journal if e.path.lower() == CONTACTS.lower()} == {"p01", "p02"}


def test_pods_refuse_missing_or_bad_credentials_and_the_login_host_serves_no_api(sandbox):
    pod = sandbox.pod_url()
    assert requests.get(pod + CONTACTS, timeout=5).status_code == 401
    assert requests.get(pod + CONTACTS, headers=basic(password="x"), timeout=5).status_code == 401
    assert requests.get(sandbox.url + CONTACTS, headers=basic(), timeout=5).status_code == 404


def test_after_26b_a_refresh_leaves_the_old_access_token_alive(sandbox):
    sandbox.identity.revoke_on_refresh = False
    first = password_grant(sandbox)
    token(sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert requests.get(sandbox.pod_url() + CONTACTS, headers=bearer(first["access_token"]), timeout=5).status_code == 200


def test_faults_wait_for_the_nth_matching_call_and_latency_applies_per_path(sandbox):
    sandbox.fail_next(1, 503, after=2, path=r"(?i)/api/rest/1\.0/data/contacts")
    statuses = [requests.get(sandbox.pod_url() + CONTACTS, headers=basic(), timeout=5).status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 200]
    sandbox.set_latency(0.2, path=r"(?i)/api/rest/1\.0/data/contacts")
    answer = requests.get(sandbox.pod_url() + CONTACTS, headers=basic(), timeout=5)
    assert answer.elapsed.total_seconds() >= 0.2
    sandbox.set_latency(0, path=r"(?i)/api/rest/1\.0/data/contacts")
    assert sandbox.path_latency == []
