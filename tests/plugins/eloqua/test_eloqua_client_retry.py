"""Transient failures (spec §4, §7.4): 429 without Retry-After, 503, 502, resets and hangs are
retried with growing jittered waits (Retry-After wins when sent) — for calls that may run twice.
A create is never repeated blindly."""
from __future__ import annotations

import random

import pytest

from connectors_eloqua.errors import EloquaRateLimited, EloquaTransientError
from connectors_eloqua.retry import RetryPolicy

from .support import pod_calls

CONTACT = r"(?i)/api/rest/1\.0/data/contact/1"
CREATE = r"(?i)/api/rest/1\.0/data/contact"


def test_429_without_retry_after_backs_off_exponentially_with_jitter(sandbox, client, sleeps):
    sandbox.fail_next(3, 429, path=CONTACT)
    assert client.get_contact(1)["id"] == "1"
    calls = pod_calls(sandbox, "GET", CONTACT)
    assert [e.status for e in calls] == [429, 429, 429, 200]
    assert calls[0].response == "Too Many Requests"
    assert len(sleeps) == 3
    for attempt, wait in enumerate(sleeps, start=1):
        assert 2 ** (attempt - 1) / 2 <= wait <= 2 ** (attempt - 1)  # equal jitter around 1, 2, 4 s


def test_retry_after_is_honoured_when_sent(sandbox, client, sleeps):
    sandbox.fail_next(1, 429, retry_after="7", path=CONTACT)
    client.get_contact(1)
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_reads_are_retried(sandbox, client, sleeps, status):
    sandbox.fail_next(2, status, path=CONTACT)
    assert client.get_contact(1)["id"] == "1"
    assert [e.status for e in pod_calls(sandbox, "GET", CONTACT)] == [status, status, 200]
    if status == 503:
        assert pod_calls(sandbox, "GET", CONTACT)[0].response == "There was a timeout processing the request"


def test_resets_and_hangs_on_reads_are_retried(sandbox, make_client, sleeps):
    client = make_client(timeout=(2.0, 0.3))
    sandbox.fail_next(1, drop=True, path=CONTACT)
    sandbox.hang_next(1, seconds=2.0, path=CONTACT)
    assert client.get_contact(1)["id"] == "1"
    sandbox.quiesce()
    assert sorted(e.codes for e in pod_calls(sandbox, "GET", CONTACT)) == [(), ("hang",), ("reset",)]


def test_giving_up_says_rate_limited_or_unavailable(sandbox, make_client):
    client = make_client(retry=RetryPolicy(max_attempts=3))
    sandbox.fail_next(3, 429, path=CONTACT)
    with pytest.raises(EloquaRateLimited):
        client.get_contact(1)
    sandbox.fail_next(3, 503, path=CONTACT)
    with pytest.raises(EloquaTransientError, match="503"):
        client.get_contact(1)


def test_random_faults_are_seeded_and_survived(sandbox, client):
    sandbox.fail_randomly(0.3, statuses=(429, 503), seed=11, path=r"(?i)/api/rest/.*")
    for contact_id in range(1, 21):
        assert client.get_contact(contact_id)["id"] == str(contact_id)
    assert sandbox.random_faults.drawn > 0


def test_a_create_is_retried_on_429_but_not_blindly_on_503(sandbox, client, sleeps):
    sandbox.fail_next(1, 429, path=CREATE)
    client.create_contact({"emailAddress": "throttled@example.com"})
    assert [e.status for e in pod_calls(sandbox, "POST", CREATE)] == [429, 201]  # 429: nothing was done
    sandbox.fail_next(1, 503, path=CREATE)
    client.create_contact({"emailAddress": "unsure@example.com"})
    statuses = [(e.method, e.status) for e in pod_calls(sandbox) if e.method == "POST" or "contacts" in e.path]
    assert statuses[-3:] == [("POST", 503), ("GET", 200), ("POST", 201)]  # looked before sending again


def test_the_token_endpoint_is_retried_on_transient_failures(sandbox, make_client):
    sandbox.fail_next(2, 503, path=r"(?i)/auth/oauth2/token", host="login")
    client = make_client(sandbox.oauth_connection(), rng=random.Random(1))
    assert client.get_contact(1)["id"] == "1"
