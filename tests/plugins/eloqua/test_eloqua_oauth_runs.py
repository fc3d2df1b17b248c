"""Every Eloqua job type on an OAuth connection whose single-use refresh token the core keeps
(``ConnectionState``): the first access token is got at run start, and access tokens also expire
mid-run, on every other call to the pod. On SQLite a run's session holds the write lock for as
long as its transaction is open, so a refresh saving its rotated token from inside an open
transaction would wait for itself; each run must succeed, send nothing twice, lose nothing, and
leave the one live refresh token stored."""
from __future__ import annotations

import pytest
from sqlalchemy import select

import connectors_eloqua.plugin as plugin
from connectors import ConnectionState
from connectors.models import PluginConfig
from connectors.testing import Harness
from connectors_eloqua.jobs import contact_list, create_update_contacts, engagement, import_contacts, interest
from connectors_eloqua.sandbox import INTEREST_OBJECT, ENGAGEMENT_OBJECT, INVITEES_LIST
from connectors_eloqua.transport import Transport

from .activity_support import AGENDA, REG, SESSION, accepted_job, attendee, change, deliver, delivery, plan
from .outbound_support import ATTENDEES, seed_attendees, uploaded_rows
from .support import login_calls
from .test_eloqua_contact_list import invitee_emails, members_by_email, register
from .test_eloqua_metrics import expected_interest, records, stored_scores

TOKEN = r"(?i)/auth/oauth2/token"


@pytest.fixture(params=["first_token", "expiring_odd", "expiring_even"])
def expiry(request, sandbox, monkeypatch):
    """"first_token": the run starts with only the refresh token; "expiring_…": besides, every
    other pod call (the odd ones, or the even ones: between the two, every call but the retry
    after a refresh) finds its access token expired (Eloqua answers 401, the client refreshes)."""
    if request.param != "first_token":
        real, calls, phase = Transport.send, [], 1 if request.param == "expiring_odd" else 0

        def send(self, method, url, **kwargs):
            if "/auth/oauth2/" not in url and not url.rstrip("/").endswith("/id"):
                calls.append(url)
                if len(calls) % 2 == phase:
                    sandbox.expire_access_tokens()
            return real(self, method, url, **kwargs)

        monkeypatch.setattr(Transport, "send", send)
    return request.param


def oauth_harness(tmp_path, sandbox, url=None) -> Harness:
    h = Harness(tmp_path, plugins={"eloqua": plugin}, database_url=url)
    h.configure("eloqua", sandbox.oauth_connection())
    return h


@pytest.fixture
def oauth(tmp_path, sandbox, run_waits):
    h = oauth_harness(tmp_path, sandbox)
    yield h
    h.close()


def assert_the_chain_is_whole(h, sandbox, expiry):
    """Every refresh spent a live token (no invalid_grant), and the live one is the stored one."""
    answers = [e.status for e in login_calls(sandbox, "POST", TOKEN)]
    assert answers and set(answers) == {200}, answers
    if expiry != "first_token":
        assert len(answers) >= 2
        assert sandbox.journal.count(status=401) >= 1
    with h.read_factory() as s:
        config_id = s.scalar(select(PluginConfig.id).where(PluginConfig.application == "eloqua")
                             .order_by(PluginConfig.id.desc()))
    stored = ConnectionState(h.factory, h.box, config_id).load()
    assert sandbox.identity.live_refresh_tokens() == [stored["refresh_token"]]


def succeeded(result):
    assert result.status == "succeeded", (result.error, result.log[-5:])
    return result


# -- inbound ------------------------------------------------------------------------------------------------
def test_import_as_registrations(oauth, sandbox, expiry):
    people = sandbox.list_members(sandbox.find_list(INVITEES_LIST))
    result = succeeded(oauth.run(import_contacts.REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST}))
    assert result.counters == {"created": len(people)}
    emails = [r["email"].lower() for r in oauth.registrations()]
    assert len(emails) == len(set(emails)) == len(people)
    assert_the_chain_is_whole(oauth, sandbox, expiry)


def test_import_as_profiles(oauth, sandbox, expiry):
    result = succeeded(oauth.run(import_contacts.PROFILES_KEY, {"contact_list_name": INVITEES_LIST}, event=False))
    assert result.counters == {"created": 300} and len(oauth.profiles()) == 300
    assert_the_chain_is_whole(oauth, sandbox, expiry)


# -- outbound -----------------------------------------------------------------------------------------------
def test_update_contact_list(oauth, sandbox, expiry):
    emails = invitee_emails(sandbox, 20)
    register(oauth, [*emails, "nobody@nowhere.example"])
    result = succeeded(oauth.run(contact_list.KEY, {"contact_list_name": "SUMMIT26 Registered"}))
    assert result.counters == {"created": 20, "skipped": 1}
    assert members_by_email(sandbox, sandbox.find_list("SUMMIT26 Registered")) == sorted(e.lower() for e in emails)
    assert_the_chain_is_whole(oauth, sandbox, expiry)


def test_create_or_update_contacts(oauth, sandbox, expiry):
    seed_attendees(oauth)
    before = len(sandbox.all_contacts())
    result = succeeded(oauth.run(create_update_contacts.KEY, {"batch_size": 50}))
    assert result.counters == {"created": ATTENDEES}
    assert len(sandbox.all_contacts()) == before + ATTENDEES
    sent = [row["C_EmailAddress"].lower() for row in uploaded_rows(sandbox, r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data")]
    assert len(sent) == len(set(sent)) == ATTENDEES
    assert all(p["external_ids"].get("eloqua_contact_id") for p in oauth.profiles())
    assert_the_chain_is_whole(oauth, sandbox, expiry)


@pytest.fixture
def contacts_sent(oauth):
    seed_attendees(oauth)
    succeeded(oauth.run(create_update_contacts.KEY, {}))
    return oauth


def test_engagement(contacts_sent, sandbox, expiry):
    result = succeeded(contacts_sent.run(engagement.KEY, {"batch_size": 50}))
    assert result.counters == {"created": ATTENDEES}
    keys = [r["EngagementKey"] for r in records(sandbox, ENGAGEMENT_OBJECT)]
    assert len(keys) == len(set(keys)) == ATTENDEES
    assert_the_chain_is_whole(contacts_sent, sandbox, expiry)


def test_interest(contacts_sent, sandbox, expiry):
    succeeded(contacts_sent.run(interest.KEY, {"batch_size": 50}))
    expected = {key: score for key, score in expected_interest(contacts_sent).items() if score}
    assert {key: score for key, score in stored_scores(sandbox).items() if score} == expected
    keys = [r["InterestKey"] for r in records(sandbox, INTEREST_OBJECT)]
    assert len(keys) == len(set(keys))
    assert_the_chain_is_whole(contacts_sent, sandbox, expiry)


# -- activities: the validate run, then one change through the dispatcher's delivery path ------------------
def one_activity_per_change(h, sandbox, key):
    job_id = accepted_job(h, key)  # the job's validate run checks its parameters against Eloqua
    person = sandbox.all_contacts()[3]
    code = attendee(h, person["C_EmailAddress"])
    status = "Attended" if key == REG else "Registered"
    [delivery_id] = [d for d in plan(h, change(h, code, status, kind=key)) if delivery(h, d).job_id == job_id]
    assert deliver(h, delivery_id) == "sent"
    assert [(a["contactId"], a["activityType"]) for a in sandbox.all_activities()] == [(str(person["id"]), status)]


@pytest.mark.parametrize("key", [REG, SESSION, AGENDA])
def test_activity_jobs(oauth, sandbox, expiry, key):
    one_activity_per_change(oauth, sandbox, key)
    assert_the_chain_is_whole(oauth, sandbox, expiry)


# -- PostgreSQL ---------------------------------------------------------------------------------------------
@pytest.fixture
def pg_oauth(tmp_path, sandbox, run_waits, postgres_url):
    h = oauth_harness(tmp_path, sandbox, postgres_url)
    yield h
    h.close()


def test_on_postgresql_an_import_and_an_activity_job(pg_oauth, sandbox, expiry):
    """(The PostgreSQL database is shared by the session's tests: counted by what this run made.)"""
    people = sandbox.list_members(sandbox.find_list(INVITEES_LIST))
    result = succeeded(pg_oauth.run(import_contacts.REGISTRATIONS_KEY, {"contact_list_name": INVITEES_LIST}))
    assert result.counters.get("created", 0) + result.counters.get("unchanged", 0) == len(people)
    imported = [r["email"].lower() for r in pg_oauth.registrations() if r["source"] == "connector:eloqua"]
    assert len(imported) == len(set(imported)) == len(people)
    one_activity_per_change(pg_oauth, sandbox, REG)
    assert_the_chain_is_whole(pg_oauth, sandbox, expiry)
