"""Two accounts, one Eloqua site (and user, or OAuth client): nothing one of them got from Eloqua
(the site's ``/id`` answer, a token chain, a refresh lock) is ever used for the other, and an
administrator's saved password or secret is used at the very next call."""
from __future__ import annotations

import pytest

import connectors_eloqua.plugin as plugin
from connectors.testing import ACCOUNT_CODE, Harness
from connectors_eloqua.discovery import IDENTITY_CACHE
from connectors_eloqua.errors import EloquaAuthError
from connectors_eloqua.jobs.import_contacts import PROFILES_KEY
from connectors_eloqua.sandbox import INVITEES_LIST

from ...tenant_support import OTHER, add_other_account, check, config_id, profiles_of, run_account_job
from ...tenant_support import save as save_connection_of
from .support import login_calls, pod_calls


def two_accounts(tmp_path, a_settings: dict, b_settings: dict) -> Harness:
    """Account A (``TEST``) and account B (``OTHER``), each with its own Eloqua configuration."""
    h = Harness(tmp_path, plugins={"eloqua": plugin})
    h.configure("eloqua", a_settings)
    add_other_account(h, "eloqua", b_settings)
    return h


@pytest.fixture
def basic(tmp_path, sandbox, run_waits):
    """B has A's site and user name, and a wrong password."""
    h = two_accounts(tmp_path, sandbox.connection, dict(sandbox.connection, password="wrong-password"))
    yield h
    h.close()


@pytest.fixture
def oauth(tmp_path, sandbox, run_waits):
    """B has A's site and OAuth client id, a refresh token of its own, and a wrong client secret."""
    h = two_accounts(tmp_path, sandbox.oauth_connection(), dict(sandbox.oauth_connection(), client_secret="wrong"))
    yield h
    h.close()


def import_profiles(h: Harness, account_code: str):
    return run_account_job(h, account_code, PROFILES_KEY, {"contact_list_name": INVITEES_LIST})


def save(h: Harness, account_code: str, settings: dict) -> None:
    """The administrator saves the configuration's connection on the plugins page."""
    save_connection_of(h, account_code, "eloqua", settings)


def cached_configurations() -> list[int | None]:
    return sorted(k.credentials.configuration for k in IDENTITY_CACHE.keys())


# -- Basic authentication --------------------------------------------------------------------------
def test_a_wrong_password_asks_id_itself_and_never_reaches_a_pod(basic, sandbox):
    assert check(basic, ACCOUNT_CODE).ok
    pod_before, ids_before = len(pod_calls(sandbox)), len(login_calls(sandbox, "GET", "/id"))

    b = check(basic, OTHER)
    assert not b.ok and "Not authenticated" in b.message
    run = import_profiles(basic, OTHER)
    assert run.status == "failed" and "Eloqua refused the connection" in (run.error or "")
    assert profiles_of(basic, OTHER) == 0
    assert len(login_calls(sandbox, "GET", "/id")) == ids_before + 2  # B asked /id itself, twice
    assert len(pod_calls(sandbox)) == pod_before  # and never got as far as a pod
    assert cached_configurations() == [config_id(basic, ACCOUNT_CODE)]

    done = import_profiles(basic, ACCOUNT_CODE)  # A is unaffected
    assert done.status == "succeeded", done.error
    assert profiles_of(basic, ACCOUNT_CODE) > 0 and profiles_of(basic, OTHER) == 0


def test_a_client_built_from_settings_alone_never_borrows_an_identity(sandbox, make_client):
    make_client().site()
    with pytest.raises(EloquaAuthError):
        make_client(dict(sandbox.connection, password="wrong-password")).site()


def test_a_saved_password_is_used_at_the_next_call(basic, sandbox):
    assert check(basic, ACCOUNT_CODE).ok
    ids = len(login_calls(sandbox, "GET", "/id"))

    sandbox.default_user.password = "new-password"  # changed in Eloqua, then saved here
    save(basic, ACCOUNT_CODE, dict(sandbox.connection))
    assert check(basic, ACCOUNT_CODE).ok
    assert len(login_calls(sandbox, "GET", "/id")) == ids + 1  # asked again, with the new password
    assert cached_configurations() == [config_id(basic, ACCOUNT_CODE)]  # the old answer is gone

    pods = len(pod_calls(sandbox))
    save(basic, ACCOUNT_CODE, dict(sandbox.connection, password="typo"))
    failed = check(basic, ACCOUNT_CODE)
    assert not failed.ok and "Not authenticated" in failed.message
    assert len(pod_calls(sandbox)) == pods  # refused at /id, not answered from the cache


def test_two_configurations_with_identical_settings_keep_their_own_identity(basic, sandbox):
    save(basic, OTHER, dict(sandbox.connection))  # B now has A's exact settings
    assert check(basic, ACCOUNT_CODE).ok and check(basic, OTHER).ok
    assert cached_configurations() == sorted([config_id(basic, ACCOUNT_CODE), config_id(basic, OTHER)])


# -- OAuth ------------------------------------------------------------------------------------------------
def test_a_wrong_client_secret_is_refused_even_right_after_the_other_account_got_a_token(oauth, sandbox):
    assert check(oauth, ACCOUNT_CODE).ok
    assert import_profiles(oauth, ACCOUNT_CODE).status == "succeeded"
    pods = len(pod_calls(sandbox))

    b = check(oauth, OTHER)
    assert not b.ok and "invalid_client" in b.message
    run = import_profiles(oauth, OTHER)
    assert run.status == "failed" and "invalid_client" in (run.error or "")
    assert profiles_of(oauth, OTHER) == 0 and len(pod_calls(sandbox)) == pods
    assert cached_configurations() == [config_id(oauth, ACCOUNT_CODE)]
    refused = [e for e in login_calls(sandbox, "POST", r"(?i)/auth/oauth2/token") if e.status == 401]
    assert len(refused) == 2  # B's own token requests, both refused


def test_oauth_clients_built_from_settings_alone_never_borrow_an_identity(sandbox, make_client):
    good = sandbox.oauth_connection()
    make_client(good).site()
    with pytest.raises(EloquaAuthError):
        make_client(dict(good, client_secret="wrong")).site()
