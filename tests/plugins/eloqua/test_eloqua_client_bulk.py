"""The client's Bulk helpers against the sandbox (spec §3, §5): imports with rejects mapped back
to the input rows, uploads in chunks, exports read page by page, polling deadlines, sync errors,
expired data, and the two creates (definition, sync) that must not happen twice."""
from __future__ import annotations

import pytest

from connectors_eloqua.errors import (
    BulkSyncError, BulkSyncTimeout, EloquaAmbiguousError, ExportExpired, UploadTooLarge,
)
from connectors_eloqua.retry import PollPolicy
from connectors_eloqua.sandbox import INVITEES_LIST

from .support import pod_calls

EMAIL = "{{Contact.Field(C_EmailAddress)}}"
IMPORT = {"name": "Create or update contacts", "identifierFieldName": "C_EmailAddress",
          "fields": {"C_EmailAddress": EMAIL, "C_FirstName": "{{Contact.Field(C_FirstName)}}",
                     "C_Company": "{{Contact.Field(C_Company)}}"}}
EXPORT = {"name": "Invitees", "fields": {"Id": "{{Contact.Id}}", "Email": EMAIL},
          "filter": "EXISTS('{{ContactList[101]}}')", "areSystemTimestampsInUTC": True}
DATA = r"(?i)/api/bulk/2\.0/syncs/\d+/data"


def registrations(n, bad=()):
    return [{"C_EmailAddress": f"not-an-email-{i}" if i in bad else f"attendee{i}@example.com",
             "C_FirstName": f"Name{i}", "C_Company": "Contoso Ltd"} for i in range(n)]


# -- imports -----------------------------------------------------------------------------------------------
def test_import_lifecycle_with_rejects_mapped_to_the_input_rows(sandbox, client, sleeps):
    rows = registrations(60, bad={7, 42})
    rows[50]["C_EmailAddress"] = rows[3]["C_EmailAddress"].upper()  # the same person twice in one batch
    result = client.run_import("contacts/imports", IMPORT, rows)
    assert result.status == "warning" and result.rows == 60 and result.files == 1
    assert [(r.row, r.code) for r in result.rejects] == [(7, "ELQ-00002"), (42, "ELQ-00002"), (50, "ELQ-00026")]
    assert all(rows[r.row]["C_EmailAddress"] == r.values["C_EmailAddress"] for r in result.rejects)
    assert result.count("ELQ-00004") == 57 and sandbox.find_contact("attendee0@example.com")
    statuses = [e.response["status"] for e in pod_calls(sandbox, "GET", r"(?i)/api/bulk/2\.0/syncs/\d+")]
    assert statuses == ["pending", "active", "warning"] and len(sleeps) == 2
    assert pod_calls(sandbox, "DELETE", r"(?i)/api/bulk/2\.0/contacts/imports/\d+")  # definition cleaned up


def test_uploads_are_cut_under_the_size_limit_and_record_indexes_span_files(sandbox, client):
    rows = registrations(30, bad={25})
    definition = client.create_definition("contacts/imports", IMPORT)
    uploaded = client.upload_rows(definition["uri"], rows, max_bytes=500)
    uploads = pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data")
    assert uploaded.files == len(uploads) > 3 and uploaded.rows == 30
    assert all(len(str(u.body).encode()) < 700 for u in uploads)
    sync = client.wait_for_sync(client.start_sync(definition["uri"])["uri"])
    rejects = list(client.sync_rejects(sync["uri"]))
    assert [r["recordIndex"] for r in rejects] == [26]  # row 25 of the input, in its fourth-or-later file
    with pytest.raises(UploadTooLarge):
        client.upload_rows(definition["uri"], [{"C_EmailAddress": "x" * 600}], max_bytes=500)
    with pytest.raises(UploadTooLarge, match="files"):
        client.upload_rows(definition["uri"], rows, max_bytes=500, max_files=2)
    assert pod_calls(sandbox, "DELETE", r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data")  # staging cleared


def test_an_upload_that_may_have_been_staged_is_cleared_and_sent_again(sandbox, client):
    sandbox.fail_next(1, 503, after_effect=True, path=r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data")
    result = client.run_import("contacts/imports", IMPORT, registrations(5))
    assert result.status == "success" and result.count("ELQ-00001") == 5  # not 10: staged once
    calls = [(e.method, e.status) for e in pod_calls(sandbox, path=r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data")]
    assert calls == [("POST", 503), ("DELETE", 204), ("POST", 204)]
    once = (row for row in registrations(3))  # a generator cannot be read twice: say so
    sandbox.fail_next(1, 503, after_effect=True, path=r"(?i)/api/bulk/2\.0/contacts/imports/\d+/data")
    with pytest.raises(EloquaAmbiguousError, match="staging area was cleared"):
        client.run_import("contacts/imports", IMPORT, once)


def test_a_sync_start_whose_answer_was_lost_is_found_not_repeated(sandbox, client):
    definition = client.create_definition("contacts/imports", IMPORT)
    client.upload_rows(definition["uri"], registrations(3))
    sandbox.fail_next(1, drop=True, after_effect=True, path=r"(?i)/api/bulk/2\.0/syncs")
    sync = client.start_sync(definition["uri"])
    assert len(sandbox.bulk.syncs) == 1 and sync["uri"] == f"/syncs/{next(iter(sandbox.bulk.syncs))}"
    assert len(pod_calls(sandbox, "POST", r"(?i)/api/bulk/2\.0/syncs")) == 1


def test_a_definition_create_whose_answer_was_lost_is_found_not_repeated(sandbox, client):
    sandbox.fail_next(1, 503, after_effect=True, path=r"(?i)/api/bulk/2\.0/contacts/exports")
    definition = client.create_definition("contacts/exports", EXPORT)
    assert len(sandbox.bulk.definitions) == 1 and definition["name"] == "Invitees"


def test_a_sync_that_ends_in_error_raises_with_its_codes(sandbox, client):
    sandbox.bulk.faults.error("ELQ-00122", "Definition validation error")
    with pytest.raises(BulkSyncError) as caught:
        client.run_import("contacts/imports", IMPORT, registrations(2))
    assert "ELQ-00122" in caught.value.codes and caught.value.sync["status"] == "error"


def test_a_stuck_sync_hits_the_deadline_and_can_be_resumed(sandbox, client, clock):
    sandbox.bulk.faults.stuck()
    policy = PollPolicy(first_delay=2.0, max_delay=300.0, deadline=3600.0)
    with pytest.raises(BulkSyncTimeout) as caught:
        client.run_import("contacts/imports", IMPORT, registrations(2), poll=policy)
    waited = clock.sleeps
    assert abs(sum(waited) - 3600.0) < 1e-6 and max(waited) <= 300.0  # capped, ends exactly at the deadline
    assert waited[:4] == sorted(waited[:4])  # growing waits
    sync = sandbox.bulk.syncs[int(caught.value.sync_uri.rsplit("/", 1)[1])]
    assert caught.value.sync_status == "active" and not sync.definition.deleted  # kept for a later run
    sync.script.active_polls = 0  # it finally moves on
    assert client.wait_for_sync(caught.value.sync_uri)["status"] == "success"


# -- exports -----------------------------------------------------------------------------------------------
def test_export_pages_are_read_lazily_with_bookmarks(sandbox, client):
    handle = client.run_export("contacts/exports", EXPORT)
    assert handle.total == 300
    pages = client.export_pages(handle.sync_uri, limit=120)
    first = next(pages)
    assert (len(first.items), first.offset, first.next_offset, first.has_more) == (120, 0, 120, True)
    assert len(pod_calls(sandbox, "GET", DATA)) == 1  # nothing read ahead
    rest = list(pages)
    assert [(p.offset, len(p.items)) for p in rest] == [(120, 120), (240, 60)] and not rest[-1].has_more
    resumed = list(client.export_rows(handle.sync_uri, limit=100, offset=first.next_offset))
    members = set(sandbox.list_members(sandbox.find_list(INVITEES_LIST)))
    assert len(resumed) == 180 and {int(r["Id"]) for r in first.items + resumed} == members
    assert [e.param("offset") for e in pod_calls(sandbox, "GET", DATA)] == ["0", "120", "240", "120", "220"]


def test_an_empty_page_with_has_more_is_asked_again_not_skipped(sandbox, client, sleeps):
    sandbox.bulk.faults.empty_page_once()
    handle = client.run_export("contacts/exports", EXPORT)
    rows = list(client.export_rows(handle.sync_uri, limit=1000))
    assert len(rows) == 300
    assert [e.param("offset") for e in pod_calls(sandbox, "GET", DATA)] == ["0", "0"]


def test_expired_export_data_says_export_again(sandbox, client):
    handle = client.run_export("contacts/exports", EXPORT)
    pages = client.export_pages(handle.sync_uri, limit=100)
    next(pages)
    sandbox.advance(7 * 3600)  # past the 6 h retention
    with pytest.raises(ExportExpired, match="410"):
        next(pages)
    sandbox.bulk.expired_status = 404
    with pytest.raises(ExportExpired, match="404"):
        list(client.export_rows(handle.sync_uri))


def test_catalogue_helpers(sandbox, client):
    assert client.bulk_contact_lists(INVITEES_LIST)[0]["statement"] == "{{ContactList[101]}}"
    fields = {f["internalName"]: f for f in client.bulk_contact_fields()}
    assert fields["C_EmailAddress"]["hasUniquenessConstraint"] and len(fields) == 22
    engagement = next(o for o in client.custom_objects() if o["name"] == "Certain Event Engagement")
    statements = [f["statement"] for f in client.custom_object_fields(engagement["id"])]
    assert statements[0] == "{{CustomObject[%s].Field[%s]}}" % (engagement["id"], engagement["fields"][0]["id"])
    assert {t["name"] for t in client.external_asset_types()} >= {"Certain Event", "Certain Session"}
    assert client.get_campaign(1001)["currentStatus"] == "Active"
