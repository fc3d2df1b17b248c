"""Creates that must happen once (spec §4, §8): when a create's answer is lost after Eloqua made
the record, the client finds it instead of sending the create again; when the record is not
there it sends again; when it cannot tell, it says so and sends nothing."""
from __future__ import annotations

import pytest

from connectors_eloqua.errors import EloquaAmbiguousError, EloquaConflict, EloquaValidationError
from connectors_eloqua.sandbox import EVENT_ASSET_TYPE, SUMMIT_CAMPAIGN

from .support import pod_calls

CREATE_CONTACT = r"(?i)/api/rest/1\.0/data/contact"
CREATE_ACTIVITY = r"(?i)/api/rest/2\.0/data/activity"
WHEN = 1_780_000_000


def test_a_contact_create_that_timed_out_after_it_happened_is_not_duplicated(sandbox, make_client):
    client = make_client(timeout=(2.0, 0.3))
    sandbox.hang_next(1, seconds=2.0, after_effect=True, path=CREATE_CONTACT)
    created = client.create_contact({"emailAddress": "late.answer@example.com", "firstName": "Late"})
    assert created["emailAddress"] == "late.answer@example.com" and created["firstName"] == "Late"
    sandbox.quiesce()
    posts = pod_calls(sandbox, "POST", CREATE_CONTACT)
    assert len(posts) == 1 and posts[0].codes == ("hang",)
    assert [c for c in sandbox.all_contacts() if c["C_EmailAddress"] == "late.answer@example.com"] == \
        [sandbox.find_contact("late.answer@example.com")]
    lookup = pod_calls(sandbox, "GET", r"(?i)/api/rest/1\.0/data/contacts")[-1]
    assert lookup.param("search") == "emailAddress='late.answer@example.com'"


def test_a_contact_create_lost_before_it_happened_is_sent_again(sandbox, client):
    sandbox.fail_next(1, drop=True, path=CREATE_CONTACT)  # reset before Eloqua did anything
    client.create_contact({"emailAddress": "second.try@example.com"})
    posts = pod_calls(sandbox, "POST", CREATE_CONTACT)
    assert [(p.status, p.codes) for p in posts] == [(0, ("reset",)), (201, ())]
    assert posts[0].body_hash == posts[1].body_hash  # the very same create, sent twice only because it was checked


def test_upsert_updates_an_existing_contact_and_a_taken_email_is_a_conflict(sandbox, client):
    existing = sandbox.all_contacts()[0]
    updated, created = client.upsert_contact({"emailAddress": existing["C_EmailAddress"], "title": "Chief Tester"})
    assert not created and updated["title"] == "Chief Tester"
    assert sandbox.contact(existing["id"])["C_LastName"] == existing["C_LastName"]  # the PUT kept what it did not change
    with pytest.raises(EloquaConflict) as caught:
        client.create_contact({"emailAddress": existing["C_EmailAddress"]})
    assert caught.value.requirements == ["UniquenessRequirement"]


def test_an_activity_create_that_timed_out_after_it_happened_is_not_duplicated(sandbox, make_client):
    client = make_client(timeout=(2.0, 0.3))
    sandbox.hang_next(1, seconds=2.0, after_effect=True, path=CREATE_ACTIVITY)
    activity = client.create_activity(7, "Attended", EVENT_ASSET_TYPE, "Summit 2026", WHEN, campaign_id=SUMMIT_CAMPAIGN)
    assert activity["contactId"] == "7" and activity["activityType"] == "Attended"
    sandbox.quiesce()
    assert len(sandbox.all_activities()) == 1 and len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == 1
    check = pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/activities/exports")
    assert len(check) == 1 and "2026-05-28 20:26:40" in check[0].body["filter"]
    assert pod_calls(sandbox, "DELETE", r"(?i)/api/bulk/2\.0/activities/exports/\d+")  # the check cleans up


def test_an_activity_not_created_is_sent_again_after_the_check(sandbox, client):
    sandbox.fail_next(1, 502, path=CREATE_ACTIVITY)
    client.create_activity(7, "Registered", EVENT_ASSET_TYPE, "Summit 2026", WHEN)
    assert [e.status for e in pod_calls(sandbox, "POST", CREATE_ACTIVITY)] == [502, 201]
    assert len(sandbox.all_activities()) == 1


def test_an_activity_whose_outcome_cannot_be_checked_is_not_resent(sandbox, client):
    sandbox.fail_next(1, 503, after_effect=True, path=CREATE_ACTIVITY)
    sandbox.fail_next(10, 503, path=r"(?i)/api/bulk/2\.0/activities/exports")
    with pytest.raises(EloquaAmbiguousError, match="checking whether it happened failed"):
        client.create_activity(7, "Registered", EVENT_ASSET_TYPE, "Summit 2026", WHEN)
    assert len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == 1 and len(sandbox.all_activities()) == 1


def test_activity_validation_errors_are_not_retried(sandbox, client):
    with pytest.raises(EloquaValidationError) as caught:
        client.create_activity(7, "Danced", EVENT_ASSET_TYPE, "Summit 2026", WHEN)
    assert caught.value.errors[0]["property"] == "activityType"
    assert len(pod_calls(sandbox, "POST", CREATE_ACTIVITY)) == 1
