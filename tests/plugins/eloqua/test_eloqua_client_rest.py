"""The client's REST helpers against the sandbox (spec §2): contact search across pages, shared
list membership by PUT, custom object records (their creates checked like contacts')."""
from __future__ import annotations

from connectors_eloqua.sandbox import ATTENDANCE_OBJECT, INVITEES_LIST

from .support import pod_calls


def test_contacts_page_through_every_match(sandbox, client):
    france = list(client.contacts("C_Country='France'", depth="partial", count=7))
    expected = [c for c in sandbox.all_contacts() if c["C_Country"] == "France"]
    assert [int(c["id"]) for c in france] == [c["id"] for c in expected]
    pages = pod_calls(sandbox, "GET", r"(?i)/api/rest/1\.0/data/contacts")
    assert [e.param("page") for e in pages] == [str(p) for p in range(1, len(pages) + 1)]
    assert len(pages) == -(-len(expected) // 7)


def test_emails_with_plus_and_apostrophe_are_found(sandbox, client):
    for email in ("first+tag@example.com", "o'neil@example.com"):
        client.create_contact({"emailAddress": email})
        assert [c["emailAddress"] for c in client.find_contacts_by_email(email.upper())] == [email]


def test_list_membership_through_rest(sandbox, client):
    invitees = client.find_contact_list(INVITEES_LIST)
    assert invitees["count"] == "300"
    outsiders = [c["id"] for c in sandbox.all_contacts()[-3:]]
    client.add_to_contact_list(invitees["id"], outsiders)
    assert set(outsiders) <= set(sandbox.list_members(int(invitees["id"])))
    client.remove_from_contact_list(invitees["id"], outsiders[:1])
    assert outsiders[0] not in sandbox.list_members(int(invitees["id"]))
    puts = pod_calls(sandbox, "PUT", r"(?i)/api/rest/1\.0/assets/contact/list/\d+")
    assert all(p.body["name"] == INVITEES_LIST for p in puts)  # a PUT carries the required name
    new = client.create_contact_list("SUMMIT26 Checked In")
    assert client.find_contact_list("summit26 checked in")["id"] == new["id"]


def test_custom_object_records_and_a_checked_create(sandbox, client):
    cdo = client.find_custom_object(ATTENDANCE_OBJECT)
    key = next(f["id"] for f in cdo["fields"] if f["internalName"] == "AttendanceKey")
    sandbox.fail_next(1, 503, after_effect=True, path=r"(?i)/api/rest/2\.0/data/customObject/\d+/instance")
    record = client.create_custom_object_record(cdo["id"], {"contactId": "2", "fieldValues": [
        {"id": key, "value": "SUMMIT26:2"}]}, unique_code="SUMMIT26:2")
    assert record["uniqueCode"] == "SUMMIT26:2"
    assert [r["unique_code"] for r in sandbox.custom_object_records(int(cdo["id"]))].count("SUMMIT26:2") == 1
    found = list(client.custom_object_records(cdo["id"], "uniqueCode='SUMMIT26:2'"))
    updated = client.update_custom_object_record(cdo["id"], found[0]["id"], {"contactId": "3", "fieldValues": [
        {"id": key, "value": "SUMMIT26:2"}]})
    assert updated["contactId"] == "3"
