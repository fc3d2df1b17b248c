"""The sandbox's Bulk API 2.0 over raw HTTP (spec §3, §7.3, §7.4): definitions and their checks,
upload limits, the sync lifecycle on polls and on the clock, import semantics with rejects,
exports with filters and paging, and the data faults."""
from __future__ import annotations

import base64

import pytest
import requests

from connectors_eloqua.sandbox import ENGAGEMENT_OBJECT, EVENT_ASSET_TYPE, INVITEES_LIST

AUTH = {"Authorization": "Basic " + base64.b64encode(b"DemoCompany\\demo.user:demo-password").decode()}
EMAIL = "{{Contact.Field(C_EmailAddress)}}"
CONTACT_IMPORT = {"name": "Registrations", "identifierFieldName": "Email",
                  "fields": {"Email": EMAIL, "First": "{{Contact.Field(C_FirstName)}}",
                             "Title": "{{Contact.Field(C_Title)}}"}}


@pytest.fixture
def bulk(sandbox):
    def call(method, path, **kwargs):
        headers = {**AUTH, **kwargs.pop("headers", {})}
        return requests.request(method, f"{sandbox.pod_url()}/api/bulk/2.0/{path.lstrip('/')}", headers=headers,
                                timeout=5, **kwargs)
    return call


def run_sync(bulk, definition_uri, polls=10):
    sync = bulk("POST", "syncs", json={"syncedInstanceUri": definition_uri}).json()
    for _ in range(polls):
        sync = bulk("GET", sync["uri"]).json()
        if sync["status"] not in ("pending", "active"):
            break
    return sync


def import_rows(bulk, rows, definition=CONTACT_IMPORT, path="contacts/imports"):
    created = bulk("POST", path, json=definition)
    assert created.status_code == 201, created.text
    assert bulk("POST", created.json()["uri"] + "/data", json=rows).status_code == 204
    return run_sync(bulk, created.json()["uri"])


# -- definitions ---------------------------------------------------------------------------------------
def test_definitions_are_checked_when_created(bulk):
    too_many = {"name": "x", "fields": {f"F{i}": EMAIL for i in range(101)}}
    bad = [
        (too_many, "fields"),
        ({"name": "x", "fields": {"Email": "{{Contact.Field(C_Nope)}}"}}, "fields.Email"),
        ({"name": "x", "fields": {"Email": EMAIL}, "identifierFieldName": "C_EmailAddress"}, "identifierFieldName"),
        ({"name": "x", "fields": {"Email": EMAIL}, "syncActions": [{"action": "add", "destination": "{{ContactList[9]}}"}]},
         "syncActions[0]"),
        ({"name": "", "fields": {"Email": EMAIL}}, "name"),
    ]
    for definition, field in bad:
        answer = bulk("POST", "contacts/imports", json=definition)
        assert answer.status_code == 400 and field in [f["field"] for f in answer.json()["failures"]]
    export = {"name": "x", "fields": {"Email": EMAIL}, "filter": "EXISTS('{{ContactList[101]}}') AND "
                                                                 "EXISTS('{{ContactList[102]}}')"}
    assert bulk("POST", "contacts/exports", json=export).json()["failures"][0]["field"] == "filter"
    export["filter"] = "'" + EMAIL + "' = '" + "x" * 1000 + "'"
    assert bulk("POST", "contacts/exports", json=export).status_code == 400
    good = bulk("POST", "contacts/imports", json=CONTACT_IMPORT).json()
    assert good["uri"].startswith("/contacts/imports/") and good["updateRule"] == "always"
    assert bulk("GET", good["uri"]).json()["name"] == "Registrations"
    assert bulk("DELETE", good["uri"]).status_code == 204 and bulk("GET", good["uri"]).status_code == 404


def test_catalogues_page_and_filter(bulk):
    fields = bulk("GET", "contacts/fields", params={"limit": 5}).json()
    assert (fields["limit"], fields["count"], fields["hasMore"]) == (5, 5, True) and fields["totalResults"] > 5
    assert fields["items"][0]["statement"] == EMAIL
    lists = bulk("GET", "contacts/lists", params={"q": "name='SUMMIT26*'"}).json()["items"]
    assert [(i["name"], i["statement"]) for i in lists] == [(INVITEES_LIST, "{{ContactList[101]}}")]
    assert bulk("GET", "contacts/fields", params={"limit": 1001}).status_code == 400
    objects = bulk("GET", "customObjects", params={"q": f"name='{ENGAGEMENT_OBJECT}'"}).json()["items"]
    cdo_fields = bulk("GET", objects[0]["uri"] + "/fields").json()["items"]
    assert cdo_fields[0]["statement"].startswith("{{CustomObject[")


# -- uploads ---------------------------------------------------------------------------------------------
def test_upload_limits(bulk, sandbox):
    uri = bulk("POST", "contacts/imports", json=CONTACT_IMPORT).json()["uri"]
    sandbox.bulk.max_upload_bytes = 200
    big = [{"Email": f"p{i}@example.com"} for i in range(20)]
    assert bulk("POST", uri + "/data", json=big).status_code == 404  # Eloqua answers 404 over 32 MB
    sandbox.bulk.max_upload_bytes, sandbox.bulk.max_files_per_sync = 32 * 1024 * 1024, 2
    for _ in range(2):
        assert bulk("POST", uri + "/data", json=[{"Email": "a@example.com"}]).status_code == 204
    assert bulk("POST", uri + "/data", json=[{"Email": "a@example.com"}]).status_code == 400
    assert bulk("DELETE", uri + "/data").status_code == 204
    sandbox.bulk.staging_quota_bytes = 10
    assert bulk("POST", uri + "/data", json=big).status_code == 413
    csv_uri = bulk("POST", "contacts/imports", json={**CONTACT_IMPORT, "isSyncTriggeredOnImport": True}).json()["uri"]
    sandbox.bulk.staging_quota_bytes = None
    started = bulk("POST", csv_uri + "/data", data="Email,First\r\ncsv@example.com,Cee\r\n",
                   headers={"Content-Type": "text/csv"})
    assert started.status_code == 201 and started.json()["status"] == "pending"
    sandbox.bulk.settle(sandbox.bulk.syncs[int(started.json()["uri"].rsplit("/", 1)[1])])
    assert sandbox.find_contact("csv@example.com")["C_FirstName"] == "Cee"


# -- the sync lifecycle ---------------------------------------------------------------------------------------
def test_sync_moves_pending_active_success_on_polls(bulk, sandbox):
    uri = bulk("POST", "contacts/imports", json=CONTACT_IMPORT).json()["uri"]
    bulk("POST", uri + "/data", json=[{"Email": "new@example.com", "First": "Nia"}])
    sync = bulk("POST", "syncs", json={"syncedInstanceUri": uri})
    assert sync.status_code == 201 and sync.json()["status"] == "pending"
    seen = [bulk("GET", sync.json()["uri"]).json() for _ in range(3)]
    assert [s["status"] for s in seen] == ["pending", "active", "success"]
    assert "syncStartedAt" in seen[1] and "syncEndedAt" in seen[2]
    codes = {i["statusCode"]: i["count"] for i in bulk("GET", sync.json()["uri"] + "/logs").json()["items"]}
    assert codes["ELQ-00004"] == 1 and codes["ELQ-00001"] == 1 and "ELQ-00101" in codes


def test_sync_timing_follows_the_sandbox_clock(bulk, sandbox):
    sandbox.bulk.faults.next_sync(pending_polls=0, active_polls=0, pending_seconds=30, active_seconds=60)
    uri = bulk("POST", "contacts/exports", json={"name": "x", "fields": {"Email": EMAIL}}).json()["uri"]
    sync_uri = bulk("POST", "syncs", json={"syncedInstanceUri": uri}).json()["uri"]
    assert bulk("GET", sync_uri).json()["status"] == "pending"
    sandbox.advance(31)
    assert bulk("GET", sync_uri).json()["status"] == "active"
    sandbox.advance(61)
    assert bulk("GET", sync_uri).json()["status"] == "success"


def test_second_sync_conflicts_and_deleting_a_running_definition_fails_its_sync(bulk, sandbox):
    uri = bulk("POST", "contacts/imports", json=CONTACT_IMPORT).json()["uri"]
    first = bulk("POST", "syncs", json={"syncedInstanceUri": uri}).json()
    second = bulk("POST", "syncs", json={"syncedInstanceUri": uri})
    assert second.status_code == 409
    bulk("GET", first["uri"])
    bulk("DELETE", uri)
    ended = [bulk("GET", first["uri"]).json() for _ in range(3)][-1]
    assert ended["status"] == "error"
    assert "ELQ-00143" in [i["statusCode"] for i in bulk("GET", first["uri"] + "/logs").json()["items"]]
    assert bulk("POST", "syncs", json={"syncedInstanceUri": "/contacts/imports/1"}).status_code == 400


def test_scripted_sync_errors_and_retry_logs(bulk, sandbox):
    sandbox.bulk.faults.error("ELQ-00146", "Temporary failure")
    uri = bulk("POST", "contacts/exports", json={"name": "x", "fields": {"Email": EMAIL}}).json()["uri"]
    assert run_sync(bulk, uri)["status"] == "error"
    sandbox.bulk.faults.retried()
    sync = run_sync(bulk, uri)
    logs = [i["statusCode"] for i in bulk("GET", sync["uri"] + "/logs").json()["items"]]
    assert sync["status"] == "success" and "ELQ-00145" in logs


# -- import semantics -------------------------------------------------------------------------------------------
def test_contact_import_upserts_and_rejects_by_record_index(bulk, sandbox):
    existing = sandbox.all_contacts()[0]
    rows = [{"Email": existing["C_EmailAddress"].upper(), "First": "Renamed"},  # 1 update (email ignores case)
            {"Email": "fresh@example.com", "First": "Fresh"},                   # 2 create
            {"Email": "not an email", "First": "Bad"},                           # 3 ELQ-00002
            {"Email": "", "First": "Nobody"},                                    # 4 ELQ-00061
            {"Email": "FRESH@example.com", "First": "Twice"},                    # 5 ELQ-00026
            {"Email": "extra@example.com", "Unknown": "ignored"}]                # 6 create, column ignored
    sync = import_rows(bulk, rows)
    assert sync["status"] == "warning"
    rejects = bulk("GET", sync["uri"] + "/rejects").json()["items"]
    assert [(r["recordIndex"], r["statusCode"], r["invalidFields"]) for r in rejects] == [
        (3, "ELQ-00002", ["Email"]), (4, "ELQ-00061", ["Email"]), (5, "ELQ-00026", ["Email"])]
    assert rejects[0]["fieldValues"] == {"Email": "not an email", "First": "Bad"}
    assert sandbox.contact(existing["id"])["C_FirstName"] == "Renamed"
    assert sandbox.find_contact("fresh@example.com")["C_FirstName"] == "Fresh"
    logs = {i["statusCode"]: i["count"] for i in bulk("GET", sync["uri"] + "/logs").json()["items"]}
    assert (logs["ELQ-00004"], logs["ELQ-00022"], logs["ELQ-00060"], logs["ELQ-00111"]) == (2, 1, 3, 1)
    assert bulk("GET", sync["uri"] + "/rejects", params={"limit": 1001}).status_code == 400


def test_update_rules_and_sync_actions(bulk, sandbox):
    contact = sandbox.all_contacts()[5]
    list_id = sandbox.add_list("Attendees")
    definition = {**CONTACT_IMPORT, "updateRule": "ifNewIsNotNull",
                  "syncActions": [{"action": "add", "destination": f"{{{{ContactList[{list_id}]}}}}"}]}
    sync = import_rows(bulk, [{"Email": contact["C_EmailAddress"], "First": "", "Title": "Chief Listener"}], definition)
    assert sync["status"] == "success"
    after = sandbox.contact(contact["id"])
    assert after["C_FirstName"] == contact["C_FirstName"] and after["C_Title"] == "Chief Listener"
    assert sandbox.list_members(list_id) == [contact["id"]]
    removal = {"name": "remove", "fields": {"Email": EMAIL},
               "syncActions": [{"action": "remove", "destination": f"{{{{ContactList[{list_id}]}}}}"}]}
    sync = import_rows(bulk, [{"Email": contact["C_EmailAddress"]}, {"Email": "ghost@example.com"}], removal,
                       "contacts/syncActions")
    assert sync["status"] == "warning" and sandbox.list_members(list_id) == []
    codes = [i["statusCode"] for i in bulk("GET", sync["uri"] + "/logs").json()["items"]]
    assert "ELQ-00118" in codes


def test_custom_object_import_maps_data_cards(bulk, sandbox):
    cdo = sandbox.find_custom_object(ENGAGEMENT_OBJECT)
    fields = {f["internalName"]: f["statement"] for f in bulk("GET", f"customObjects/{cdo}/fields").json()["items"]}
    known = sandbox.all_contacts()[0]["C_EmailAddress"]
    definition = {"name": "engagement", "identifierFieldName": "Key", "mapDataCards": True,
                  "mapDataCardsEntityType": "Contact", "mapDataCardsSourceField": "Email",
                  "mapDataCardsEntityField": EMAIL,
                  "fields": {"Key": fields["EngagementKey"], "Email": fields["EmailAddress"],
                             "Score": fields["EngagementScore"]}}
    rows = [{"Key": "S26:1", "Email": known.upper(), "Score": "7"}, {"Key": "S26:2", "Email": "nobody@x.com", "Score": "1"}]
    sync = import_rows(bulk, rows, definition, f"customObjects/{cdo}/imports")
    assert sync["status"] == "success"
    records = sandbox.custom_object_records(cdo)
    assert [(r["unique_code"], r["contact_id"] is not None) for r in records] == [("S26:1", True), ("S26:2", False)]
    assert "ELQ-00034" in [i["statusCode"] for i in bulk("GET", sync["uri"] + "/logs").json()["items"]]
    import_rows(bulk, [{"Key": "s26:1", "Score": "9"}], definition, f"customObjects/{cdo}/imports")
    assert [r["EngagementScore"] for r in sandbox.custom_object_records(cdo)] == ["9", "1"]


def test_activity_import_checks_types_and_contacts(bulk, sandbox):
    definition = {"name": "activities", "fields": {
        "ContactId": "{{Activity.Contact.Id}}", "Type": "{{Activity.Type}}", "AssetType": "{{Activity.Asset.Type}}",
        "AssetName": "{{Activity.Asset.Name}}", "When": "{{Activity.CreatedAt}}", "Campaign": "{{Activity.Campaign.Id}}"}}
    good = {"ContactId": "1", "Type": "Registered", "AssetType": EVENT_ASSET_TYPE, "AssetName": "Summit 2026",
            "When": "2026-06-09 10:00:00", "Campaign": "1001"}
    rows = [good, {**good, "ContactId": "999999"}, {**good, "Type": "Danced"}, {**good, "AssetType": "Webinar"},
            {**good, "Campaign": "1002"}]
    sync = import_rows(bulk, rows, definition, "activities/imports")
    codes = [r["statusCode"] for r in bulk("GET", sync["uri"] + "/rejects").json()["items"]]
    assert codes == ["ELQ-00085", "ELQ-00070", "ELQ-00072", "ELQ-00132"]
    assert len(sandbox.all_activities()) == 1


# -- exports ---------------------------------------------------------------------------------------------------
def test_export_filters_pages_and_csv(bulk, sandbox):
    definition = {"name": "invitees", "fields": {"Id": "{{Contact.Id}}", "Email": EMAIL,
                                                 "Updated": "{{Contact.UpdatedAt}}"},
                  "filter": "EXISTS('{{ContactList[101]}}') AND '{{Contact.Field(C_Country)}}' != 'France'",
                  "areSystemTimestampsInUTC": True}
    sync = run_sync(bulk, bulk("POST", "contacts/exports", json=definition).json()["uri"])
    first = bulk("GET", sync["uri"] + "/data", params={"limit": 100}).json()
    expected = [c for c in sandbox.all_contacts() if c["id"] in sandbox.list_members(101) and c["C_Country"] != "France"]
    assert first["totalResults"] == len(expected) and first["hasMore"] and first["count"] == 100
    last = bulk("GET", sync["uri"] + "/data", params={"limit": 100, "offset": 200}).json()
    assert not last["hasMore"] and last["count"] == len(expected) - 200
    assert first["items"][0]["Updated"].count(":") == 2
    assert bulk("GET", sync["uri"] + "/data", params={"limit": 50001}).status_code == 400
    as_csv = bulk("GET", sync["uri"] + "/data", params={"limit": 2}, headers={"Accept": "text/csv"})
    assert as_csv.text.splitlines()[0] == "Id,Email,Updated" and len(as_csv.text.splitlines()) == 3
    like = {**definition, "filter": "'{{Contact.Field(C_EmailAddress)}}' ~ '%@contoso.com'"}
    rows = bulk("GET", run_sync(bulk, bulk("POST", "contacts/exports", json=like).json()["uri"])["uri"] + "/data").json()
    assert rows["items"] and all(r["Email"].endswith("@contoso.com") for r in rows["items"])


def test_export_data_faults(bulk, sandbox):
    uri = bulk("POST", "contacts/exports", json={"name": "x", "fields": {"Email": EMAIL}}).json()["uri"]
    sandbox.bulk.faults.empty_page_once()
    sync = run_sync(bulk, uri)
    quirk = bulk("GET", sync["uri"] + "/data").json()
    assert quirk["items"] == [] and quirk["hasMore"] and quirk["totalResults"] == 400
    assert bulk("GET", sync["uri"] + "/data").json()["count"] == 400
    sandbox.add_user("other.user", "pw")
    other = {"Authorization": "Basic " + base64.b64encode(b"DemoCompany\\other.user:pw").decode()}
    assert bulk("GET", sync["uri"] + "/data", headers=other).status_code == 403
    sandbox.advance(6 * 3600 + 1)  # exports keep their data 6 hours by default
    assert bulk("GET", sync["uri"] + "/data").status_code == 410
    sandbox.bulk.expired_status = 404
    assert bulk("GET", sync["uri"] + "/data").status_code == 404


def test_activity_exports_are_capped(bulk, sandbox):
    for day in range(5):
        sandbox.activities.create(1, EVENT_ASSET_TYPE, "Registered", "Summit 2026", 1780000000 + day)
    sandbox.bulk.faults.cap_export(3)
    definition = {"name": "acts", "fields": {"Id": "{{Activity.Id}}", "When": "{{Activity.CreatedAt}}"},
                  "filter": "'{{Activity.CreatedAt}}' >= '2026-01-01 00:00:00'"}
    sync = run_sync(bulk, bulk("POST", "activities/exports", json=definition).json()["uri"])
    logs = {i["statusCode"]: i["count"] for i in bulk("GET", sync["uri"] + "/logs").json()["items"]}
    assert logs["ELQ-00102"] == 3 and bulk("GET", sync["uri"] + "/data").json()["totalResults"] == 3


def test_scripted_rejects_make_a_warning_sync(bulk, sandbox):
    sandbox.bulk.faults.reject_rows({2: ("ELQ-00040", "Invalid value.", ("Title",))})
    sync = import_rows(bulk, [{"Email": f"r{i}@example.com", "Title": "null"} for i in range(3)])
    assert sync["status"] == "warning"
    rejects = bulk("GET", sync["uri"] + "/rejects").json()["items"]
    assert [(r["recordIndex"], r["statusCode"], r["invalidFields"]) for r in rejects] == [(2, "ELQ-00040", ["Title"])]
    assert sandbox.find_contact("r1@example.com") is None and sandbox.find_contact("r2@example.com")
