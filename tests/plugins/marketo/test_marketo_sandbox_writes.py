"""The sandbox's write endpoints — Sync Leads, campaigns, custom objects — and usage stats, over
raw HTTP and through the client."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from connectors_marketo.errors import MarketoError
from connectors_marketo.ratelimit import RATE_LIMITERS
from connectors_marketo.sandbox import (
    CONFIRMATION_CAMPAIGN, FOLLOW_UP_CAMPAIGN, INVITATION_CAMPAIGN, REMINDER_CAMPAIGN, WEBFORM_CAMPAIGN, start_sandbox,
)

ENGAGEMENT = "certainEngagement_c"
INTEREST = "certainInterest_c"


@pytest.fixture(autouse=True)
def fresh_limiters():
    RATE_LIMITERS.clear()
    yield
    RATE_LIMITERS.clear()


@pytest.fixture
def http(sandbox):
    session = requests.Session()
    token = session.get(f"{sandbox.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    session.base = f"{sandbox.url}/rest"
    return session


def post(http, path, body):
    response = http.post(http.base + path, json=body)
    assert response.status_code == 200
    return response.json()


def error_code(body):
    assert body["success"] is False, body
    return body["errors"][0]["code"]


def reason_codes(results):
    return [r["reasons"][0]["code"] if r["status"] == "skipped" else r["status"] for r in results]


def duplicate_email(sandbox):
    counts = Counter(lead["email"] for lead in sandbox.leads if lead.get("email"))
    return next(email for email, n in counts.items() if n > 1)


# -- Sync Leads -----------------------------------------------------------------------------------------
def test_create_or_update_answers_per_record_in_input_order(sandbox, http):
    existing = sandbox.get_lead(1)
    before = existing["updatedAt"]
    body = post(http, "/v1/leads.json", {"action": "createOrUpdate", "lookupField": "email", "input": [
        {"email": "new.person@example.com", "firstName": "New", "certainAttendeeId": "A-1"},
        {"email": existing["email"].upper(), "title": "Chief Listener"},
        {"email": duplicate_email(sandbox), "title": "Twice"},
        {"email": "x@example.com", "shoeSize": 44},
        {"email": "y@example.com", "createdAt": "2020-01-01T00:00:00Z"},
        {"email": "not-an-email"},
        {"firstName": "No lookup value"},
    ]})
    assert body["success"] is True and "requestId" in body
    results = body["result"]
    assert reason_codes(results) == ["created", "updated", "1007", "1006", "1003", "1003", "1003"]
    assert results[1]["id"] == 1 and "seq" not in results[0]
    assert results[2]["reasons"][0]["message"] == "Multiple lead match lookup criteria"
    created = sandbox.get_lead(results[0]["id"])
    assert created["firstName"] == "New" and created["certainAttendeeId"] == "A-1"
    updated = sandbox.get_lead(1)
    assert updated["title"] == "Chief Listener" and updated["updatedAt"] != before


def test_create_only_update_only_and_create_duplicate(sandbox, http):
    email = sandbox.get_lead(2)["email"]
    created_only = post(http, "/v1/leads.json", {"action": "createOnly", "input": [{"email": email},
                                                                                    {"email": "fresh@example.com"}]})
    assert reason_codes(created_only["result"]) == ["1005", "created"]
    assert created_only["result"][0]["reasons"][0]["message"] == "Lead already exists"
    update_only = post(http, "/v1/leads.json", {"action": "updateOnly", "input": [
        {"email": "nobody@example.com", "firstName": "Ghost"}, {"email": email, "firstName": "Renamed"}]})
    assert reason_codes(update_only["result"]) == ["1004", "updated"]
    assert update_only["result"][0]["reasons"][0]["message"] == "Lead not found"
    by_id = post(http, "/v1/leads.json", {"action": "updateOnly", "lookupField": "id",
                                         "input": [{"id": 2, "company": "Renamed Inc"}, {"id": 999999}]})
    assert reason_codes(by_id["result"]) == ["updated", "1004"] and sandbox.get_lead(2)["company"] == "Renamed Inc"
    twice = post(http, "/v1/leads.json", {"action": "createDuplicate", "input": [{"email": email}]})
    assert twice["result"][0]["status"] == "created" and len(sandbox.find_leads("email", email)) == 2


def test_sync_leads_request_level_errors(sandbox, http):
    url = http.base + "/v1/leads.json"
    assert error_code(post(http, "/v1/leads.json", {"input": [{"email": f"{i}@x.com"} for i in range(301)]})) == "1003"
    assert error_code(http.post(url, data="{not json", headers={"Content-Type": "application/json"}).json()) == "609"
    assert error_code(http.post(url, data="email=a@b.com",
                                headers={"Content-Type": "text/plain"}).json()) == "612"
    assert error_code(post(http, "/v1/leads.json", {"action": "upsert", "input": [{"email": "a@b.com"}]})) == "1003"
    assert error_code(post(http, "/v1/leads.json", {"lookupField": "shoeSize", "input": [{"email": "a@b.com"}]})) == "1006"
    assert error_code(post(http, "/v1/leads.json", {"lookupField": "firstName", "input": [{"firstName": "A"}]})) == "1011"
    assert error_code(post(http, "/v1/leads.json", {"action": "updateOnly", "partitionName": "Default",
                                                    "input": [{"email": "a@b.com"}]})) == "1003"
    assert error_code(post(http, "/v1/leads.json", {"partitionName": "Nope", "input": [{"email": "a@b.com"}]})) == "1003"
    assert error_code(post(http, "/v1/leads.json", {"input": []})) == "1003"


def test_partitions_keep_their_own_leads(sandbox, http):
    sandbox.add_partition("EMEA")
    email = sandbox.get_lead(3)["email"]
    body = post(http, "/v1/leads.json", {"partitionName": "EMEA", "input": [{"email": email}]})
    lead_id = body["result"][0]["id"]
    assert body["result"][0]["status"] == "created" and sandbox.lead_partition(lead_id) == "EMEA"


def test_client_sync_leads_and_its_limits(sandbox, client):
    results = client.sync_leads([{"email": "one@example.com"}, {"email": duplicate_email(sandbox)}])
    assert [r["status"] for r in results] == ["created", "skipped"] and results[1]["reasons"][0]["code"] == "1007"
    assert client.sync_leads([{"email": "one@example.com", "lastName": "Uno"}])[0]["status"] == "updated"
    assert client.sync_leads([{"email": "two@example.com"}], action="updateOnly")[0]["reasons"][0]["code"] == "1004"
    with pytest.raises(ValueError):
        client.sync_leads([{"email": f"{i}@x.com"} for i in range(301)])
    with pytest.raises(ValueError):
        client.sync_leads([{"email": "a@b.com"}], action="upsert")
    last = sandbox.journal.last("POST", r"/rest/v1/leads\.json")
    assert last.body == {"action": "updateOnly", "lookupField": "email", "input": [{"email": "two@example.com"}]}


def test_concurrent_upserts_of_one_new_key_create_duplicates_like_marketo(sandbox, make_client):
    sandbox.upsert_race_window = 0.2
    client = make_client()
    threads = [threading.Thread(target=client.sync_leads, args=([{"email": "race@example.com"}],)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(sandbox.find_leads("email", "race@example.com")) == 2
    assert sandbox.overlapping_upserts() == {"race@example.com"}
    # once two leads share the email, an update by email is refused with 1007
    assert client.sync_leads([{"email": "race@example.com"}])[0]["reasons"][0]["code"] == "1007"


def test_sequential_upserts_of_one_key_stay_one_lead(sandbox, client):
    sandbox.upsert_race_window = 0.05
    for name in ("A", "B"):
        client.sync_leads([{"email": "calm@example.com", "firstName": name}])
    (lead,) = sandbox.find_leads("email", "calm@example.com")
    assert lead["firstName"] == "B" and sandbox.overlapping_upserts() == set()


# -- campaigns ----------------------------------------------------------------------------------------------
def test_campaigns_are_listed_filtered_and_paged(sandbox, http):
    everything = http.get(http.base + "/v1/campaigns.json").json()["result"]
    assert [c["id"] for c in everything] == [1001, 1002, 1003, 1004, 1005]
    assert set(everything[0]) == {"id", "name", "description", "type", "programId", "programName", "workspaceName",
                                  "active", "createdAt", "updatedAt"}
    triggerable = http.get(http.base + "/v1/campaigns.json", params={"isTriggerable": "true"}).json()["result"]
    assert [c["id"] for c in triggerable] == [CONFIRMATION_CAMPAIGN, FOLLOW_UP_CAMPAIGN]
    newsletter = http.get(http.base + "/v1/campaigns.json", params={"programName": "Newsletter"}).json()["result"]
    assert [c["id"] for c in newsletter] == [WEBFORM_CAMPAIGN]
    page = http.get(http.base + "/v1/campaigns.json", params={"batchSize": 2}).json()
    rest = http.get(http.base + "/v1/campaigns.json", params={"batchSize": 2, "nextPageToken": page["nextPageToken"]}).json()
    assert [c["id"] for c in page["result"] + rest["result"]] == [1001, 1002, 1003, 1004]
    one = http.get(http.base + f"/v1/campaigns/{INVITATION_CAMPAIGN}.json").json()["result"][0]
    assert one["type"] == "batch" and one["active"] is True
    assert error_code(http.get(http.base + "/v1/campaigns/42.json").json()) == "1013"


def test_trigger_records_each_request_with_leads_and_tokens(sandbox, http):
    body = post(http, f"/v1/campaigns/{CONFIRMATION_CAMPAIGN}/trigger.json", {"input": {
        "leads": [{"id": 1}, {"id": 2}], "tokens": [{"name": "{{my.EventName}}", "value": "SUMMIT26"}]}})
    assert body["result"] == [{"id": CONFIRMATION_CAMPAIGN}]
    (run,) = sandbox.campaign_runs
    assert run.campaign_id == CONFIRMATION_CAMPAIGN and run.lead_ids == (1, 2)
    assert run.token_values == {"{{my.EventName}}": "SUMMIT26"}


@pytest.mark.parametrize("campaign, payload, code", [
    (CONFIRMATION_CAMPAIGN, {"leads": [{"id": i} for i in range(101)]}, "1003"),
    (CONFIRMATION_CAMPAIGN, {"leads": [{"id": 1}], "tokens": [{"name": f"{{{{my.t{i}}}}}", "value": "v"}
                                                              for i in range(101)]}, "1003"),
    (CONFIRMATION_CAMPAIGN, {"leads": [{"id": 1}], "tokens": [{"name": "EventName", "value": "v"}]}, "1003"),
    (CONFIRMATION_CAMPAIGN, {"leads": []}, "1003"),
    (INVITATION_CAMPAIGN, {"leads": [{"id": 1}]}, "1003"),
    (REMINDER_CAMPAIGN, {"leads": [{"id": 1}]}, "1003"),
    (WEBFORM_CAMPAIGN, {"leads": [{"id": 1}]}, "1003"),
    (424242, {"leads": [{"id": 1}]}, "1013"),
])
def test_trigger_refusals(sandbox, http, campaign, payload, code):
    assert error_code(post(http, f"/v1/campaigns/{campaign}/trigger.json", {"input": payload})) == code
    assert sandbox.campaign_runs == []


def test_client_campaign_calls(sandbox, client):
    assert client.get_campaign(CONFIRMATION_CAMPAIGN)["type"] == "trigger"
    assert [c["id"] for c in client.get_campaigns(triggerable=True)] == [CONFIRMATION_CAMPAIGN, FOLLOW_UP_CAMPAIGN]
    assert client.get_campaigns(name="SUMMIT26 - Reminder", triggerable=True) == []
    client.trigger_campaign(FOLLOW_UP_CAMPAIGN, [5, 6], tokens={"{{my.EventCode}}": "S26", "{{my.Empty}}": None})
    (run,) = sandbox.campaign_runs
    assert run.lead_ids == (5, 6) and run.token_values == {"{{my.EventCode}}": "S26", "{{my.Empty}}": ""}
    with pytest.raises(MarketoError) as caught:
        client.trigger_campaign(INVITATION_CAMPAIGN, [1])
    assert caught.value.code == "1003" and "batch" in caught.value.message
    with pytest.raises(MarketoError) as caught:
        client.get_campaign(424242)
    assert caught.value.code == "1013"
    with pytest.raises(ValueError):
        client.trigger_campaign(CONFIRMATION_CAMPAIGN, range(101))
    with pytest.raises(ValueError):
        client.trigger_campaign(CONFIRMATION_CAMPAIGN, [1], tokens={f"{{{{my.t{i}}}}}": i for i in range(101)})
    assert len(sandbox.campaign_runs) == 1


# -- custom objects ---------------------------------------------------------------------------------------------
def link_leads(sandbox, *attendee_ids):
    for i, attendee in enumerate(attendee_ids):
        sandbox.add_lead(email=f"attendee{i}@example.com", certainAttendeeId=attendee)


def test_custom_object_types_are_listed_and_described(http):
    listed = {t["name"]: t for t in http.get(http.base + "/v1/customobjects.json").json()["result"]}
    assert set(listed) == {ENGAGEMENT, INTEREST}
    assert listed[ENGAGEMENT]["dedupeFields"] == ["attendeeId", "eventCode"]
    assert listed[INTEREST]["dedupeFields"] == ["attendeeId", "eventCode", "tag"]
    assert listed[ENGAGEMENT]["relationships"] == [
        {"field": "attendeeId", "type": "parent", "relatedTo": {"name": "Lead", "field": "certainAttendeeId"}}]
    described = http.get(http.base + f"/v1/customobjects/{ENGAGEMENT}/describe.json").json()["result"][0]
    fields = {f["name"]: f for f in described["fields"]}
    assert described["idField"] == "marketoGUID" and fields["marketoGUID"]["updateable"] is False
    assert fields["sessionsAttended"]["dataType"] == "integer" and fields["attendedEvent"]["dataType"] == "boolean"
    assert error_code(http.get(http.base + "/v1/customobjects/nothing_c/describe.json").json()) == "1013"


def test_custom_object_upserts_create_then_update_without_duplicates(sandbox, client):
    link_leads(sandbox, "A-1", "A-2")
    records = [{"attendeeId": "A-1", "eventCode": "S26", "sessionsAttended": 3, "attendedEvent": True},
               {"attendeeId": "A-2", "eventCode": "S26", "sessionsAttended": 1, "attendedEvent": False}]
    first = client.sync_custom_objects(ENGAGEMENT, records)
    assert [(r["seq"], r["status"]) for r in first] == [(0, "created"), (1, "created")]
    again = client.sync_custom_objects(ENGAGEMENT, [dict(records[0], sessionsAttended=4), records[1]])
    assert [r["status"] for r in again] == ["updated", "updated"]
    assert [r["marketoGUID"] for r in again] == [r["marketoGUID"] for r in first]
    stored = sandbox.custom_object_records(ENGAGEMENT)
    assert len(stored) == 2 and stored[0]["sessionsAttended"] == 4
    found = client.get_custom_objects(ENGAGEMENT, "attendeeId", ["A-1"], fields=["sessionsAttended", "eventCode"])
    assert found == [{"seq": 0, "marketoGUID": first[0]["marketoGUID"], "sessionsAttended": 4, "eventCode": "S26"}]


def test_custom_object_record_rules(sandbox, client):
    link_leads(sandbox, "A-1")
    results = client.sync_custom_objects(INTEREST, [
        {"attendeeId": "A-1", "eventCode": "S26", "tag": "Cloud", "score": 10},
        {"attendeeId": "A-1", "eventCode": "S26", "tag": "Security", "score": 5},
        {"attendeeId": "NOBODY", "eventCode": "S26", "tag": "Cloud", "score": 1},
        {"attendeeId": "A-1", "eventCode": "S26", "score": 1},
        {"attendeeId": "A-1", "eventCode": "S26", "tag": "AI", "colour": "red"},
        {"attendeeId": "A-1", "eventCode": "S26", "tag": "AI", "score": "high"},
    ])
    assert reason_codes(results) == ["created", "created", "1004", "1003", "1006", "1001"]
    assert [r["seq"] for r in results] == [0, 1, 2, 3, 4, 5]
    only_new = client.sync_custom_objects(INTEREST, [{"attendeeId": "A-1", "eventCode": "S26", "tag": "Cloud"}],
                                          action="createOnly")
    only_old = client.sync_custom_objects(INTEREST, [{"attendeeId": "A-1", "eventCode": "S26", "tag": "Data"}],
                                          action="updateOnly")
    assert reason_codes(only_new + only_old) == ["1017", "1013"]
    guid = results[0]["marketoGUID"]
    by_id = client.sync_custom_objects(INTEREST, [{"marketoGUID": guid, "score": 12}], action="updateOnly",
                                       dedupe_by="idField")
    assert by_id[0]["status"] == "updated"
    assert {r["tag"]: r["score"] for r in sandbox.custom_object_records(INTEREST)} == {"Cloud": 12, "Security": 5}
    with pytest.raises(ValueError):
        client.sync_custom_objects(INTEREST, [{"attendeeId": "A-1"}] * 301)


def test_unknown_or_disabled_custom_objects(sandbox, client, http):
    with pytest.raises(MarketoError) as caught:
        client.sync_custom_objects("nothing_c", [{"a": 1}])
    assert caught.value.code == "1013"
    with pytest.raises(MarketoError) as caught:
        client.describe_custom_object("nothing_c")
    assert caught.value.code == "1013"
    assert client.describe_custom_object(ENGAGEMENT)["name"] == ENGAGEMENT
    sandbox.custom_objects_enabled = False
    assert error_code(http.get(http.base + "/v1/customobjects.json").json()) == "1026"
    with pytest.raises(MarketoError) as caught:
        client.describe_custom_object(ENGAGEMENT)
    assert caught.value.code == "1026"


# -- usage stats --------------------------------------------------------------------------------------------------
def test_usage_counts_todays_calls_per_api_user(sandbox, http):
    sandbox.set_usage(7, user="crm-sync@acme.com")
    http.get(http.base + "/v1/leads/describe.json")
    http.get(http.base + "/v1/leads/describe.json")
    body = http.get(http.base + "/v1/stats/usage.json").json()
    (today,) = body["result"]
    assert today["total"] == 9 and len(today["date"]) == 10
    assert {u["userId"]: u["count"] for u in today["users"]} == {"crm-sync@acme.com": 7,
                                                                 "demo-client@sandbox.marketo.local": 2}
    assert http.get(http.base + "/v1/stats/usage.json").json()["result"][0]["total"] == 9  # reads are not counted
    week = http.get(http.base + "/v1/stats/usage/last7days.json").json()["result"]
    assert len(week) == 7 and week[0] == today


def test_usage_resets_at_midnight_central(clock):
    clock.now = 1_767_247_000  # 2025-12-31 23:56:40 US Central (UTC-6)
    sandbox = start_sandbox(seed=False, clock=clock, daily_quota=2)
    try:
        session = requests.Session()
        token = session.get(f"{sandbox.url}/identity/oauth/token", params={
            "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}).json()
        session.headers["Authorization"] = f"Bearer {token['access_token']}"
        url = f"{sandbox.url}/rest/v1/leads/describe.json"
        codes = [session.get(url).json().get("errors", [{}])[0].get("code") for _ in range(3)]
        assert codes == [None, None, "607"] and sandbox.usage == 2
        clock.advance(400)  # past midnight in Chicago
        assert session.get(url).json()["success"] is True and sandbox.usage == 1
        assert session.get(f"{sandbox.url}/rest/v1/stats/usage.json").json()["result"][0]["date"] == "2026-01-01"
    finally:
        sandbox.stop()
