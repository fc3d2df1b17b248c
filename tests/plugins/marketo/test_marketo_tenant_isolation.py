"""Two accounts, one Marketo client id: nothing one of them got from Marketo (a token) is ever
used for the other, and an administrator's saved secret is used at the very next call.

The probe this answers: account B, configured with account A's client id and a *wrong* secret,
used to be told "Connected to Marketo" and could import A's leads, once A held a cached token.
"""
from __future__ import annotations

import pytest

import connectors_marketo.plugin as plugin
from connectors.testing import ACCOUNT_CODE, Harness
from connectors_marketo.client import MarketoClient
from connectors_marketo.errors import MarketoAuthError
from connectors_marketo.jobs.import_profiles import KEY as IMPORT_PROFILES
from connectors_marketo.sandbox import INVITEES_LIST
from connectors_marketo.tokens import TOKEN_CACHE

from ...tenant_support import OTHER, add_other_account, check, config_id, profiles_of, run_account_job, save

TOKEN_PATH = "/identity/oauth/token"


@pytest.fixture
def harness(tmp_path, sandbox):
    """Account A (``TEST``) with the sandbox's real settings, account B (``OTHER``) with the same
    client id and a wrong secret."""
    h = Harness(tmp_path, plugins={"marketo": plugin})
    h.configure("marketo", sandbox.connection)
    add_other_account(h, "marketo", dict(sandbox.connection, client_secret="wrong-secret"))
    yield h
    h.close()


def import_profiles(h: Harness, account_code: str):
    return run_account_job(h, account_code, IMPORT_PROFILES, {"static_list_name": INVITEES_LIST})


def save_secret(h: Harness, sandbox, account_code: str, secret: str) -> None:
    """The administrator saves a new client secret on the plugins page."""
    save(h, account_code, "marketo", dict(sandbox.connection, client_secret=secret))


def token_requests(sandbox) -> list[str]:
    """The client secret of each token request, in order."""
    return [e.body["client_secret"][0] for e in sandbox.journal.filter("POST", TOKEN_PATH)]


def test_a_wrong_secret_is_refused_even_right_after_the_other_account_got_a_token(harness, sandbox):
    a = check(harness, ACCOUNT_CODE)
    assert a.ok and "Connected to Marketo" in a.message

    b = check(harness, OTHER)
    assert not b.ok and "Bad client credentials" in b.message

    run = import_profiles(harness, OTHER)
    assert run.status == "failed" and "Bad client credentials" in (run.error or "")
    assert profiles_of(harness, OTHER) == 0
    assert token_requests(sandbox) == [sandbox.client_secret, "wrong-secret", "wrong-secret"]

    # A itself is unaffected: its cached token serves its job, no new token request
    done = import_profiles(harness, ACCOUNT_CODE)
    assert done.status == "succeeded", done.error
    assert profiles_of(harness, ACCOUNT_CODE) > 400 and profiles_of(harness, OTHER) == 0
    assert token_requests(sandbox) == [sandbox.client_secret, "wrong-secret", "wrong-secret"]


def test_a_client_built_from_id_and_secret_alone_never_borrows_a_token(sandbox, make_client):
    make_client().access_token()
    impostor = MarketoClient(sandbox.client_id, "wrong-secret", rest_endpoint=sandbox.rest_endpoint,
                             identity_endpoint=sandbox.identity_endpoint, sleep=lambda _: None)
    with pytest.raises(MarketoAuthError):
        impostor.access_token()
    twin = MarketoClient(sandbox.client_id, sandbox.client_secret, rest_endpoint=sandbox.rest_endpoint,
                         identity_endpoint=sandbox.identity_endpoint)
    twin.access_token()  # the same credentials, built by hand: its own entry, Marketo's same token
    assert len(token_requests(sandbox)) == 3


def test_two_configurations_with_identical_settings_keep_their_own_tokens(harness, sandbox):
    save_secret(harness, sandbox, OTHER, sandbox.client_secret)  # B now has A's exact settings
    assert check(harness, ACCOUNT_CODE).ok and check(harness, OTHER).ok
    assert len(token_requests(sandbox)) == 2
    configurations = sorted(k.credentials.configuration for k in TOKEN_CACHE.keys())
    assert configurations == sorted([config_id(harness, ACCOUNT_CODE), config_id(harness, OTHER)])


def test_a_saved_secret_is_used_at_the_next_call(harness, sandbox):
    assert check(harness, ACCOUNT_CODE).ok
    assert import_profiles(harness, ACCOUNT_CODE).status == "succeeded"
    assert token_requests(sandbox) == [sandbox.client_secret]

    # the secret is rotated in Marketo (the old token stays good there) and saved here
    sandbox.tokens.add_api_user(sandbox.client_id, "rotated-secret")
    save_secret(harness, sandbox, ACCOUNT_CODE, "rotated-secret")
    assert check(harness, ACCOUNT_CODE).ok
    assert token_requests(sandbox) == [sandbox.client_secret, "rotated-secret"]
    a_id = config_id(harness, ACCOUNT_CODE)
    assert [k.credentials.configuration for k in TOKEN_CACHE.keys()] == [a_id]  # the old settings' token is gone

    # a mistyped secret fails at once, although a token Marketo still honours is in the cache
    save_secret(harness, sandbox, ACCOUNT_CODE, "typo-secret")
    failed = check(harness, ACCOUNT_CODE)
    assert not failed.ok and "Bad client credentials" in failed.message
    run = import_profiles(harness, ACCOUNT_CODE)
    assert run.status == "failed" and "Bad client credentials" in (run.error or "")
    assert token_requests(sandbox)[-2:] == ["typo-secret", "typo-secret"]
