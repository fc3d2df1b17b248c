"""The sandbox's REST API over raw HTTP (spec §2, §4, §7.2): envelopes, searches, paging limits,
typed validation errors, lists, custom objects, external activities, and the demo seed."""
from __future__ import annotations

import base64

import pytest
import requests

from connectors_eloqua.sandbox import (
    ATTENDANCE_OBJECT, DRAFT_CAMPAIGN, ENGAGEMENT_OBJECT, EVENT_ASSET_TYPE, INVITEES_LIST, SUMMIT_CAMPAIGN,
    EloquaSandbox, seed_demo,
)

AUTH = {"Authorization": "Basic " + base64.b64encode(b"DemoCompany\\demo.user:demo-password").decode()}


@pytest.fixture
def api(sandbox):
    """``api(method, path, **kwargs)`` against the site's pod."""
    def call(method, path, **kwargs):
        headers = {**AUTH, **kwargs.pop("headers", {})}
        return requests.request(method, sandbox.pod_url() + path, headers=headers, timeout=5, **kwargs)
    return call


# -- contacts ----------------------------------------------------------------------------------------
def test_contact_search_pages_and_depths(api):
    found = api("GET", "/api/REST/1.0/data/contacts", params={"search": "C_Country='France'", "count": 5}).json()
    assert found["page"] == 1 and found["pageSize"] == 5 and found["total"] > 5
    assert set(found["elements"][0]) == {"type", "id", "createdAt", "updatedAt", "depth", "name", "emailAddress"}
    email = found["elements"][0]["emailAddress"]
    one = api("GET", "/API/rest/2.0/data/contacts", params={"search": f"emailAddress='{email.upper()}'",
                                                             "depth": "complete"}).json()
    assert one["total"] == 1 and one["elements"][0]["country"] == "France"
    assert {v["id"] for v in one["elements"][0]["fieldValues"]} >= {"100200", "100202"}
    wildcard = api("GET", "/api/REST/1.0/data/contacts", params={"search": "C_LastName='Sm*'"}).json()
    assert wildcard["total"] and all(e["name"] for e in wildcard["elements"])
    too_many = api("GET", "/api/REST/1.0/data/contacts", params={"count": 1001})
    assert too_many.status_code == 400
    assert too_many.json()[0]["type"] == "EndpointParameterError" and too_many.json()[0]["parameter"] == "count"


def test_contact_create_read_replace_delete(api, sandbox):
    body = {"emailAddress": "ana.lima+events@example.com", "firstName": "Ana", "lastName": "Lima", "title": "CTO",
            "fieldValues": [{"id": "100202", "value": "A-17"}]}
    created = api("POST", "/api/REST/1.0/data/contact", json=body)
    assert created.status_code == 201
    contact_id = created.json()["id"]
    assert sandbox.find_contact("ANA.LIMA+events@example.com")["C_Certain_Attendee_ID1"] == "A-17"
    found = api("GET", "/api/REST/1.0/data/contacts", params={"search": "emailAddress='ana.lima+events@example.com'"})
    assert found.json()["total"] == 1  # the "+" survives URL encoding
    duplicate = api("POST", "/api/REST/1.0/data/contact", json={"emailAddress": "Ana.Lima+events@example.com"})
    assert duplicate.status_code == 409 and duplicate.json()[0]["requirement"]["type"] == "UniquenessRequirement"
    invalid = api("POST", "/api/REST/1.0/data/contact", json={"emailAddress": "not-an-email"})
    assert invalid.status_code == 400 and invalid.json()[0]["requirement"]["type"] == "EmailAddressRequirement"
    assert invalid.json()[0]["container"] == {"type": "ObjectKey", "objectType": "Contact"}
    replaced = api("PUT", f"/api/REST/1.0/data/contact/{contact_id}",
                   json={"id": contact_id, "emailAddress": "ana.lima+events@example.com", "firstName": "Ana"})
    assert replaced.status_code == 200 and "title" not in replaced.json()  # omitted standard props are blanked
    assert sandbox.contact(int(contact_id))["C_Certain_Attendee_ID1"] == "A-17"  # custom ones are kept
    assert api("GET", "/api/REST/1.0/data/contact/999999").status_code == 404
    assert api("GET", "/api/REST/1.0/data/contact/sandwich").json()[0]["requirement"]["type"] == "IdRequirement"
    assert api("DELETE", f"/api/REST/1.0/data/contact/{contact_id}").status_code == 200
    assert sandbox.find_contact("ana.lima+events@example.com") is None


def test_writes_need_json_and_headers_can_override_method_and_status(api):
    assert api("POST", "/api/REST/1.0/data/contact", data="emailAddress=x",
               headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    overridden = api("POST", "/api/REST/1.0/data/contact/999999", headers={"X-HTTP-Method-Override": "GET",
                                                                            "X-HTTP-Status-Code-Override": "200"})
    assert overridden.status_code == 200 and overridden.headers["X-HTTP-Original-Status-Code"] == "404"


def test_contact_fields_list_internal_names(api):
    fields = api("GET", "/api/REST/1.0/assets/contact/fields", params={"depth": "complete"}).json()["elements"]
    by_name = {f["internalName"]: f for f in fields}
    assert {"C_EmailAddress", "C_FirstName", "C_Company", "C_BusPhone", "C_State_Prov", "C_Zip_Postal"} <= set(by_name)
    assert by_name["C_DateModified"]["isReadOnly"] == "true"


# -- lists ------------------------------------------------------------------------------------------------
def test_list_membership_changes_by_put(api, sandbox):
    listing = api("GET", "/api/REST/1.0/assets/contact/lists",
                  params={"search": "name='SUMMIT26*'", "depth": "partial"}).json()
    invitees = listing["elements"][0]
    assert invitees["name"] == INVITEES_LIST and invitees["count"] == "300"
    outsider = sandbox.all_contacts()[-1]["id"]
    path = f"/api/REST/1.0/assets/contact/list/{invitees['id']}"
    changed = api("PUT", path, json={"id": invitees["id"], "name": INVITEES_LIST,
                                     "membershipAdditions": [str(outsider)], "membershipDeletions": ["1"]})
    assert changed.json()["count"] == "300"
    assert outsider in sandbox.list_members(int(invitees["id"])) and 1 not in sandbox.list_members(int(invitees["id"]))
    unknown = api("PUT", path, json={"name": INVITEES_LIST, "membershipAdditions": ["987654"]})
    assert unknown.status_code == 400 and unknown.json()[0]["requirement"]["type"] == "RelationshipRequirement"
    nameless = api("PUT", path, json={"membershipAdditions": [str(outsider)]})
    assert nameless.json()[0]["requirement"]["type"] == "NotNullRequirement"
    membership = api("GET", f"/api/REST/1.0/data/contact/{outsider}/membership").json()
    assert [m["name"] for m in membership] == [INVITEES_LIST]


# -- custom objects ------------------------------------------------------------------------------------
def test_custom_object_records_link_to_contacts(api, sandbox):
    objects = api("GET", "/api/REST/2.0/assets/customObjects", params={"depth": "complete"}).json()["elements"]
    engagement = next(o for o in objects if o["name"] == ENGAGEMENT_OBJECT)
    key = next(f for f in engagement["fields"] if f["internalName"] == "EngagementKey")
    assert engagement["uniqueCodeFieldId"] == key["id"]
    path = f"/api/REST/2.0/data/customObject/{engagement['id']}/instance"
    created = api("POST", path, json={"contactId": "3", "fieldValues": [{"id": key["id"], "value": "SUMMIT26:R-1"}]})
    assert created.status_code == 201 and created.json()["uniqueCode"] == "SUMMIT26:R-1"
    search = api("GET", path + "s", params={"search": "uniqueCode='SUMMIT26:R-1'"}).json()
    assert search["total"] == 1 and search["elements"][0]["contactId"] == "3"
    orphan = api("POST", path, json={"contactId": "999999", "fieldValues": []})
    assert orphan.status_code == 400 and orphan.json()[0]["property"] == "contactId"
    attendance = sandbox.find_custom_object(ATTENDANCE_OBJECT)
    assert len(sandbox.custom_object_records(attendance)) == 25


# -- external activities -----------------------------------------------------------------------------------
def test_activities_are_validated_and_auto_create_assets(api, sandbox):
    types = api("GET", "/api/REST/2.0/assets/external/types").json()["elements"]
    event = next(t for t in types if t["name"] == EVENT_ASSET_TYPE)
    assert {a["name"] for a in event["activityTypes"]} >= {"Registered", "Attended", "Cancelled"}
    body = {"contactId": "5", "activityType": "Attended", "assetType": EVENT_ASSET_TYPE, "assetName": "Summit 2026",
            "activityDate": "1780000000", "campaignId": str(SUMMIT_CAMPAIGN)}
    created = api("POST", "/api/REST/2.0/data/activity", json=body)
    assert created.status_code == 201 and created.json()["name"] == "Summit 2026 - Attended"
    assert api("GET", f"/api/REST/2.0/data/activity/{created.json()['id']}").json()["contactId"] == "5"
    assert [a["name"] for a in api("GET", "/api/REST/2.0/assets/externals").json()["elements"]] == ["Summit 2026"]
    for change, prop in (({"contactId": "999999"}, "contactId"), ({"assetType": "Webinar"}, "assetType"),
                         ({"activityType": "Danced"}, "activityType"), ({"campaignId": "4242"}, "campaignId"),
                         ({"campaignId": str(DRAFT_CAMPAIGN)}, "campaignId")):
        refused = api("POST", "/api/REST/2.0/data/activity", json={**body, **change})
        assert refused.status_code == 400 and refused.json()[0]["property"] == prop
    assert api("GET", f"/api/REST/2.0/assets/campaign/{DRAFT_CAMPAIGN}").json()["currentStatus"] == "Draft"
    assert api("GET", "/api/REST/2.0/data/activities").status_code == 404  # no listing, as in Eloqua
    assert len(sandbox.all_activities()) == 1


def test_demo_seed_is_deterministic():
    first, second = EloquaSandbox(), EloquaSandbox()
    ids = seed_demo(first)
    seed_demo(second)
    assert first.all_contacts() == second.all_contacts()
    assert len(first.all_contacts()) == 400 and len(first.list_members(ids["lists"][INVITEES_LIST])) == 300
    emails = [c["C_EmailAddress"] for c in first.all_contacts()]
    assert len(set(e.lower() for e in emails)) == 400 and all(e.isascii() for e in emails)
    assert any("é" in c["C_LastName"] or "ü" in c["C_LastName"] for c in first.all_contacts())
