"""Update Eloqua Contact List, end to end against the sandbox (spec §8 job 2, §3.3): the list by id
or by name (made when missing), add and sync modes through Bulk sync actions, contacts Eloqua does
not have and other rejects reported per registration, re-runs, resumption, and faults."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from connectors import LeaseLost
from connectors.db import transaction
from connectors.jobs.submit import SubmitError
from connectors.models import Account, Event
from connectors.store import Store
from connectors.testing import ACCOUNT_CODE, EVENT_CODE
from connectors_eloqua.jobs import contact_list
from connectors_eloqua.jobs.contact_list import KEY
from connectors_eloqua.sandbox import INVITEES_LIST, NEWSLETTER_LIST

from .outbound_support import take_over
from .support import pod_calls

SYNC_ACTIONS = r"(?i)/api/bulk/2\.0/contacts/syncActions"


def register(harness, emails, status="New", attendee_type="Attendee"):
    """Registrations in the harness's event for these emails (None: a profile without email)."""
    with transaction(harness.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        store = Store(s, account, s.scalar(select(Event).where(Event.event_code == EVENT_CODE)))
        profiles = store.upsert_profiles([{"key": str(i), "fields": {"email": e, "last_name": f"Person {i}"}}
                                          for i, e in enumerate(emails)], match_on="none")
        store.upsert_registrations([{"key": p.key, "profile_id": p.id, "attendee_type_code": attendee_type,
                                     "status_label": status} for p in profiles])


def invitee_emails(sandbox, n, start=0):
    members = sandbox.list_members(sandbox.find_list(INVITEES_LIST))[start:start + n]
    return [sandbox.contact(i)["C_EmailAddress"] for i in members]


def members_by_email(sandbox, list_id):
    return sorted(sandbox.contact(i)["C_EmailAddress"].lower() for i in sandbox.list_members(list_id))


def sync_action_definitions(sandbox):
    return [c.body for c in pod_calls(sandbox, "POST", SYNC_ACTIONS) if c.status == 201]


def live_definitions(sandbox):
    return [d for d in sandbox.bulk.definitions.values() if not d.deleted]


def by_code(result):
    return Counter(r["code"] for r in result.records)


def test_adds_the_registrations_contacts_to_a_new_list_and_reports_the_others(harness, sandbox):
    emails = invitee_emails(sandbox, 20)
    register(harness, [*emails, "nobody@nowhere.example", "ghost@nowhere.example", None])
    result = harness.run(KEY, {"contact_list_name": "SUMMIT26 Registered"})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": 20, "skipped": 3}
    assert by_code(result) == {"not_in_eloqua": 2, "no_email": 1}
    ghost = next(r for r in result.records if "ghost@" in r["key"])
    assert ghost["message"] == ("no Eloqua contact has the email ghost@nowhere.example: run Create or Update "
                                "Contacts in Eloqua first") and ghost["stage"] == "add"
    made = sandbox.find_list("SUMMIT26 Registered")
    assert members_by_email(sandbox, made) == sorted(e.lower() for e in emails)
    (definition,) = sync_action_definitions(sandbox)
    assert definition["fields"] == {"EmailAddress": "{{Contact.Field(C_EmailAddress)}}"}
    assert definition["syncActions"] == [{"action": "add", "destination": "{{ContactList[%d]}}" % made}]
    assert result.checkpoint["list"] == {"id": made, "name": "SUMMIT26 Registered", "created": True}
    assert any("ELQ-00119" in line["message"] and "add 20 contacts" in line["message"] for line in result.log)
    assert live_definitions(sandbox) == []  # sync actions and the members export are deleted afterwards


def test_running_again_sends_nobody_twice_and_keeps_the_contact_ids(harness, sandbox):
    emails = invitee_emails(sandbox, 12)
    register(harness, [*emails, "nobody@nowhere.example"])
    first = harness.run(KEY, {"contact_list_name": "Registered"})
    again = harness.rerun(first.run_id)
    assert again.status == "succeeded", again.error
    assert again.counters == {"unchanged": 12, "skipped": 1}
    assert len(sync_action_definitions(sandbox)) == 2  # the first run's add, and the nobody of the second
    ids = {p["email"]: p["external_ids"].get("eloqua_contact_id") for p in harness.profiles()}
    assert all(ids[e] == str(sandbox.find_contact(e)["id"]) for e in emails)


def test_registration_filters_choose_who_goes_in(harness, sandbox):
    register(harness, invitee_emails(sandbox, 5), status="Attended", attendee_type="VIP")
    register(harness, invitee_emails(sandbox, 5, start=5), status="Cancelled")
    list_id = sandbox.add_list("VIPs who came")
    result = harness.run(KEY, {"contact_list_id": list_id, "status_labels": ["Attended"], "attendee_types": ["VIP"]})
    assert result.counters == {"created": 5}
    assert members_by_email(sandbox, list_id) == sorted(e.lower() for e in invitee_emails(sandbox, 5))
    with pytest.raises(SubmitError) as refused:  # the statuses are the event's: checked on submit
        harness.submit(KEY, {"contact_list_id": list_id, "status_labels": ["Atended"]})
    assert "'Atended' is not among the event's registration statuses" in refused.value.messages["params.status_labels"][0]


def test_sync_mode_also_takes_out_members_no_longer_chosen(harness, sandbox):
    newsletter = sandbox.find_list(NEWSLETTER_LIST)
    members = sandbox.list_members(newsletter)
    staying = [sandbox.contact(i)["C_EmailAddress"] for i in members[:10]]
    outsiders = [e for e in invitee_emails(sandbox, 60) if sandbox.find_contact(e)["id"] not in members][:5]
    register(harness, [*staying, *outsiders])
    result = harness.run(KEY, {"contact_list_id": newsletter, "mode": "sync"})
    assert result.status == "succeeded", result.error
    assert result.counters == {"unchanged": 10, "created": 5, "updated": len(members) - 10}
    assert members_by_email(sandbox, newsletter) == sorted(e.lower() for e in [*staying, *outsiders])
    removal = sync_action_definitions(sandbox)[-1]
    assert removal["fields"] == {"ContactId": "{{Contact.Id}}"} and removal["syncActions"][0]["action"] == "remove"
    assert any("ELQ-00118" in line["message"] for line in result.log)
    add_only = harness.run(KEY, {"contact_list_id": newsletter, "mode": "sync"})
    assert add_only.counters == {"unchanged": 15}


def test_add_mode_leaves_other_members_alone(harness, sandbox):
    newsletter = sandbox.find_list(NEWSLETTER_LIST)
    before = sandbox.list_members(newsletter)
    outsider = next(e for e in invitee_emails(sandbox, 60) if sandbox.find_contact(e)["id"] not in before)
    register(harness, [outsider])
    assert harness.run(KEY, {"contact_list_id": newsletter}).counters == {"created": 1}
    assert sandbox.list_members(newsletter) == sorted([*before, sandbox.find_contact(outsider)["id"]])


def test_other_rejects_are_failed_per_registration_with_eloquas_reason(harness, sandbox):
    emails = invitee_emails(sandbox, 4)
    register(harness, emails)
    sandbox.bulk.faults.reject_rows({2: ("ELQ-00002", "Invalid email address.", ("EmailAddress",))})
    result = harness.run(KEY, {"contact_list_name": "Partly"})
    assert result.status == "partially_failed"
    assert result.counters == {"created": 3, "failed": 1}
    (failed,) = result.records
    assert failed["key"].endswith(f"<{emails[1]}>")
    assert (failed["code"], failed["message"]) == ("ELQ-00002", "Invalid email address. (EmailAddress)")


def test_the_list_must_exist_when_given_by_id_and_one_of_id_or_name_is_required(harness, sandbox):
    register(harness, invitee_emails(sandbox, 1))
    missing = harness.run(KEY, {"contact_list_id": 9999})
    assert missing.status == "failed" and missing.error == "list_not_found: Eloqua has no contact list with id 9999."
    for params in ({}, {"contact_list_id": 1, "contact_list_name": "x"}):
        with pytest.raises(SubmitError) as refused:
            harness.submit(KEY, params)
        assert refused.value.messages == {"params.contact_list_id": [
            "Give the contact list's id or its name (one of them)."]}


def test_a_worker_dying_after_sending_a_batch_resumes_without_losing_or_doubling(harness, sandbox, monkeypatch):
    monkeypatch.setattr(contact_list, "BATCH", 10)
    emails = invitee_emails(sandbox, 35)
    register(harness, emails)
    real_send, sends = contact_list._ListUpdate._send, []

    def send(self, action, rows, part=0):
        sends.append(len(rows))
        real_send(self, action, rows, part)
        if len(sends) == 2:
            raise LeaseLost("worker killed after Eloqua took the batch")

    monkeypatch.setattr(contact_list._ListUpdate, "_send", send)
    run_id = harness.submit(KEY, {"contact_list_name": "Resumed"})
    crashed = harness.execute(run_id)
    assert crashed.status == "running" and crashed.counters == {"created": 10}
    first_position = crashed.checkpoint["after"]
    monkeypatch.setattr(contact_list._ListUpdate, "_send", real_send)
    resumed = take_over(harness, run_id)
    assert resumed.status == "succeeded", resumed.error
    # batch 2 reached Eloqua before the worker died: the checkpoint named it, so its members count as added
    assert resumed.counters == {"created": 35}
    assert resumed.checkpoint["after"] > first_position
    assert members_by_email(sandbox, sandbox.find_list("Resumed")) == sorted(e.lower() for e in emails)
    assert [c.body["name"] for c in pod_calls(sandbox, "POST", r"(?i)/api/REST/1\.0/assets/contact/list")] == ["Resumed"]


def test_throttled_and_lost_uploads_are_retried_without_staging_rows_twice(harness, sandbox, run_waits):
    emails = invitee_emails(sandbox, 8)
    register(harness, emails)
    sandbox.fail_next(1, 429, path=SYNC_ACTIONS + r"/\d+/data")
    sandbox.fail_next(1, 503, path=SYNC_ACTIONS + r"/\d+/data", after_effect=True)
    sandbox.bulk.faults.slow(pending_polls=2, active_polls=3)
    result = harness.run(KEY, {"contact_list_name": "Retried"})
    assert result.status == "succeeded", result.error
    assert result.counters == {"created": 8}
    (sync,) = [s for s in sandbox.bulk.syncs.values() if s.definition.kind == "syncActions"]
    assert len(sync.rows) == 8  # the upload that may have been staged was cleared and sent again
    assert members_by_email(sandbox, sandbox.find_list("Retried")) == sorted(e.lower() for e in emails)
    assert run_waits


def test_a_stuck_sync_action_fails_the_run_at_the_deadline(harness, sandbox, run_waits):
    register(harness, invitee_emails(sandbox, 3))
    sandbox.bulk.faults.stuck("pending")
    result = harness.run(KEY, {"contact_list_name": "Never filled"})
    assert result.status == "failed" and result.error.startswith("sync_timeout: Eloqua's sync /syncs/")
    assert "still pending after 6 h" in result.error and sum(run_waits) >= 6 * 3600
    assert sandbox.list_members(sandbox.find_list("Never filled")) == [] and result.counters == {}


def test_throttling_past_the_retries_ends_quota_exhausted_and_the_next_run_goes_on(harness, sandbox, monkeypatch):
    monkeypatch.setattr(contact_list, "BATCH", 10)
    emails = invitee_emails(sandbox, 25)
    register(harness, emails)
    sandbox.fail_next(6, 429, path=SYNC_ACTIONS, after=1)  # the second batch's definition is refused 6 times
    stopped = harness.run(KEY, {"contact_list_name": "Throttled"})
    assert stopped.status == "quota_exhausted" and stopped.error.startswith("429: ")
    assert stopped.counters == {"created": 10} and stopped.checkpoint["list"]["created"] is True
    resumed = harness.rerun(stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counters == {"created": 15}  # the batch committed before the stop is not looked at again
    assert [c.body["name"] for c in pod_calls(sandbox, "POST", r"(?i)/api/REST/1\.0/assets/contact/list")] == [
        "Throttled"]
    assert members_by_email(sandbox, sandbox.find_list("Throttled")) == sorted(e.lower() for e in emails)
