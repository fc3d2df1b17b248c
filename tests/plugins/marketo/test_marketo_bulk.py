"""Bulk Lead Extract end to end: the sandbox's export jobs (lifecycle, limits, faults) and the
client's BulkExporter / ResumableExport over real HTTP. The bulk clock is moved by hand: the
exporter's ``sleep`` advances it, so nothing here really waits."""
from __future__ import annotations

import hashlib
import re
import tracemalloc

import pytest
import requests

from connectors_marketo.bulk import BulkExporter, BulkExportError, BulkExportGone, ExportSpec, ResumableExport
from connectors_marketo.csvstream import BadRowError
from connectors_marketo.errors import MarketoError, MarketoQuotaExhausted
from connectors_marketo.sandbox import INVITEES_LIST

FIELDS = ["id", "email", "firstName", "company"]
INVITEES = {"staticListName": INVITEES_LIST}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def bulk(sandbox):
    sandbox.bulk.clock = lambda: T0  # only advance() moves the bulk clock
    return sandbox.bulk


@pytest.fixture
def exporter(client, bulk):
    return BulkExporter(client, sleep=bulk.advance, clock=bulk.now)


@pytest.fixture
def http(sandbox):
    """A raw session with a Bearer token, to see the API as any client would."""
    session = requests.Session()
    token = session.get(f"{sandbox.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    session.base = f"{sandbox.url}/bulk/v1/leads/export"
    return session


def calls(sandbox, what):
    return sandbox.journal.filter(path=rf"/bulk/v1/leads/export/[^/]+/{what}\.json")


def invitee_ids(sandbox):
    return sandbox.list_members(sandbox.find_list(INVITEES_LIST)["id"])


# -- lifecycle ---------------------------------------------------------------------------------
def test_full_lifecycle_from_create_to_rows(sandbox, bulk, exporter, http):
    bulk.queue_seconds, bulk.processing_seconds = 30, 120
    export_id = exporter.create(FIELDS, INVITEES, column_header_names={"firstName": "First Name"})
    assert UUID.fullmatch(export_id)
    created = http.get(f"{http.base}/{export_id}/status.json").json()["result"][0]
    assert created["status"] == "Created" and created["format"] == "CSV" and "queuedAt" not in created
    assert exporter.enqueue(export_id)["status"] == "Queued"
    assert http.get(f"{http.base}/{export_id}/file.json").status_code == 404
    bulk.advance(30)
    assert exporter.status(export_id)["status"] == "Processing"
    missing = http.get(f"{http.base}/{export_id}/file.json")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/plain")
    bulk.advance(120)
    done = exporter.status(export_id)
    assert done["status"] == "Completed" and done["numberOfRecords"] == len(invitee_ids(sandbox))
    assert {"queuedAt", "startedAt", "finishedAt"} <= set(done) and done["fileChecksum"].startswith("sha256:")
    whole = http.get(f"{http.base}/{export_id}/file.json")
    assert len(whole.content) == done["fileSize"]
    assert "sha256:" + hashlib.sha256(whole.content).hexdigest() == done["fileChecksum"]
    assert whole.text.splitlines()[0] == "id,email,First Name,company"
    assert ",null," in whole.text  # invitees without an email
    part = http.get(f"{http.base}/{export_id}/file.json", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == whole.content[:10]
    assert part.headers["Content-Range"] == f"bytes 0-9/{done['fileSize']}"

    rows = list(exporter.stream_records(export_id, done["fileChecksum"]))
    assert [int(r["id"]) for r in rows] == invitee_ids(sandbox)
    first = sandbox.get_lead(int(rows[0]["id"]))
    assert rows[0] == {"id": str(first["id"]), "email": first.get("email"), "First Name": first["firstName"],
                       "company": first["company"]}
    assert any(r["email"] is None for r in rows)


def test_wait_enqueues_a_created_export_and_polls_with_backoff(bulk, exporter):
    bulk.processing_seconds = 600
    export_id = exporter.create(FIELDS, INVITEES)
    slept = []
    status = exporter.wait(export_id, poll_interval=60, sleep=lambda s: (slept.append(s), bulk.advance(s)))
    assert status["status"] == "Completed"
    assert slept[:3] == [60, 90, 135] and sum(slept) >= 600


def test_at_most_two_exports_process_at_once(bulk, exporter):
    bulk.processing_seconds = 100
    ids = [exporter.create(FIELDS, INVITEES) for _ in range(3)]
    for export_id in ids:
        exporter.enqueue(export_id)
    assert [exporter.status(i)["status"] for i in ids] == ["Processing", "Processing", "Queued"]
    bulk.advance(100)
    assert [exporter.status(i)["status"] for i in ids] == ["Completed", "Completed", "Processing"]
    third = exporter.status(ids[2])
    assert third["startedAt"] == exporter.status(ids[0])["finishedAt"]
    assert [j["exportId"] for j in exporter.jobs(["Completed"])] == ids[:2]


def test_tsv_and_ssv_exports_round_trip(sandbox, exporter):
    for fmt in ("TSV", "SSV"):
        export_id = exporter.create(["id", "company"], INVITEES, format=fmt)
        status = exporter.wait(export_id)
        assert status["format"] == fmt
        assert len(list(exporter.stream_records(export_id))) == len(invitee_ids(sandbox))


def test_cancel_and_unknown_export(exporter):
    export_id = exporter.create(FIELDS, INVITEES)
    assert exporter.cancel(export_id)["status"] == "Cancelled"
    with pytest.raises(BulkExportError) as caught:
        exporter.wait(export_id)
    assert caught.value.code == "bulk-cancelled"
    with pytest.raises(MarketoError) as unknown:
        exporter.status("00000000-0000-0000-0000-000000000000")
    assert unknown.value.code == "1003"


# -- what create checks ------------------------------------------------------------------------
@pytest.mark.parametrize("body, code, message", [
    ({"fields": ["id", "salutation", "middleName"], "filter": INVITEES}, "1003", "Invalid fields [salutation, middleName]"),
    ({"filter": INVITEES}, "1003", "fields"),
    ({"fields": ["id"], "filter": {}}, "1003", "one filter"),
    ({"fields": ["id"], "filter": {**INVITEES, "staticListId": 1001}}, "1003", "one filter"),
    ({"fields": ["id"], "filter": {"createdAt": {"startAt": "2025-01-01T00:00:00Z", "endAt": "2025-02-02T00:00:00Z"}}},
     "1003", "31 days"),
    ({"fields": ["id"], "filter": {"createdAt": {"startAt": "yesterday", "endAt": "2025-02-02T00:00:00Z"}}}, "1003", "ISO"),
    ({"fields": ["id"], "format": "XLSX", "filter": INVITEES}, "1003", "format"),
    ({"fields": ["id"], "filter": {"staticListName": "No such list"}}, "1013", "not found"),
])
def test_create_refuses_what_marketo_refuses(http, body, code, message):
    answer = http.post(f"{http.base}/create.json", json=body).json()
    assert answer["success"] is False and answer["errors"][0]["code"] == code
    assert message in answer["errors"][0]["message"]


def test_date_filters_select_by_created_at(sandbox, exporter):
    window = {"createdAt": {"startAt": "2025-01-06T00:00:00Z", "endAt": "2025-02-05T00:00:00Z"}}
    rows = list(exporter.stream_records(exporter.wait(exporter.create(["id", "createdAt"], window))["exportId"]))
    expected = [l["id"] for l in sandbox.leads if "2025-01-06" <= l["createdAt"][:10] < "2025-02-05"]
    assert rows and sorted(int(r["id"]) for r in rows) == sorted(expected)


def test_updated_at_and_smart_lists_answer_1035_when_the_subscription_lacks_them(bulk, exporter):
    smart = bulk.add_smart_list("Hot leads", lead_ids=[1, 2, 3])
    assert len(list(exporter.stream_records(exporter.wait(exporter.create(["id"], {"smartListId": smart}))["exportId"]))) == 3
    bulk.faults.unsupported_filters()
    for flt in ({"updatedAt": {"startAt": "2025-01-01T00:00:00Z", "endAt": "2025-01-02T00:00:00Z"}},
                {"smartListId": smart}, {"smartListName": "Hot leads"}):
        with pytest.raises(MarketoError) as caught:
            exporter.create(["id"], flt)
        assert caught.value.code == "1035" and not isinstance(caught.value, MarketoQuotaExhausted)
    assert exporter.create(["id"], INVITEES)


# -- 1029: queue and quota -----------------------------------------------------------------------
def test_daily_quota_fails_fast_and_is_never_retried(sandbox, bulk, exporter):
    export_id = exporter.create(FIELDS, INVITEES)
    bulk.use_quota(500)
    with pytest.raises(MarketoQuotaExhausted) as caught:
        exporter.enqueue(export_id)
    assert caught.value.code == "1029" and caught.value.message == "Export daily quota 500MB exceeded"
    assert len(calls(sandbox, "enqueue")) == 1
    with pytest.raises(MarketoQuotaExhausted):
        exporter.create(FIELDS, INVITEES)


def test_completed_exports_spend_the_daily_quota(bulk, exporter):
    bulk.daily_quota_mb = 0.01  # about 10 KB: one invitee export spends it
    exporter.wait(exporter.create(FIELDS, INVITEES))
    with pytest.raises(MarketoQuotaExhausted, match="Export daily quota 0.01MB exceeded"):
        exporter.create(FIELDS, INVITEES)
    bulk.advance(86400)  # a new day in Central time
    assert exporter.create(FIELDS, INVITEES)


def test_full_queue_is_retried_a_few_times_then_reported(sandbox, bulk, exporter):
    bulk.processing_seconds = 3600
    for _ in range(10):
        exporter.enqueue(exporter.create(["id"], INVITEES))
    eleventh = exporter.create(["id"], INVITEES)
    with pytest.raises(MarketoQuotaExhausted, match="Too many jobs in queue"):
        exporter.enqueue(eleventh)
    assert len(calls(sandbox, "enqueue")) == 10 + exporter.queue_full_attempts
    bulk.faults.queue_full(times=2)
    bulk.advance(3600 * 5)  # the queue drains
    assert exporter.enqueue(eleventh)["status"] in ("Queued", "Processing")
    assert [e.codes for e in calls(sandbox, "enqueue")[-3:]] == [("1029",), ("1029",), ()]


def test_enqueueing_twice_is_harmless(sandbox, bulk, exporter):
    bulk.processing_seconds = 60
    export_id = exporter.create(FIELDS, INVITEES)
    exporter.enqueue(export_id)
    assert exporter.enqueue(export_id)["status"] in ("Queued", "Processing")
    assert calls(sandbox, "enqueue")[-1].response["errors"][0]["message"] == "Job already queued"


# -- failed, stuck ---------------------------------------------------------------------------------
def test_failed_export_is_a_clear_error(bulk, exporter):
    bulk.faults.fail("Export failed: internal error while writing file")
    export_id = exporter.create(FIELDS, INVITEES)
    with pytest.raises(BulkExportError) as caught:
        exporter.wait(export_id)
    assert caught.value.code == "bulk-failed" and caught.value.export_id == export_id
    assert "internal error while writing file" in str(caught.value)


def test_export_stuck_in_queue_ends_at_the_deadline(sandbox, bulk, exporter):
    bulk.faults.stay_queued()
    export_id = exporter.create(FIELDS, INVITEES)
    started = bulk.now()
    with pytest.raises(BulkExportError) as caught:
        exporter.wait(export_id, poll_interval=60, deadline=1800)
    assert caught.value.code == "bulk-timeout" and "Queued" in str(caught.value)
    assert bulk.now() - started == 1800
    assert len(calls(sandbox, "status")) < 15


def test_export_held_for_some_polls_then_moves_on(bulk, exporter):
    bulk.faults.stay_queued(polls=2)
    bulk.faults.stay_processing(polls=1)
    export_id = exporter.create(FIELDS, INVITEES)
    exporter.enqueue(export_id)
    seen = [exporter.status(export_id)["status"] for _ in range(5)]
    assert seen == ["Queued", "Queued", "Processing", "Completed", "Completed"]


# -- downloads ---------------------------------------------------------------------------------------
def completed(exporter):
    return exporter.wait(exporter.create(FIELDS, INVITEES))


def file_calls(sandbox):
    return calls(sandbox, "file")


def test_completed_but_404_is_probed_then_downloaded(sandbox, bulk, exporter):
    bulk.faults.file_missing(requests=2)
    status = completed(exporter)
    assert len(list(exporter.stream_records(status["exportId"]))) == status["numberOfRecords"]
    answers = [(e.status, e.header("Range")) for e in file_calls(sandbox)]
    assert answers == [(404, None), (404, "bytes=0-0"), (206, "bytes=0-0"), (200, None)]


def test_a_file_that_never_appears_is_gone(bulk, exporter):
    bulk.faults.file_missing(requests=100)
    status = completed(exporter)
    with pytest.raises(BulkExportGone):
        list(exporter.stream_records(status["exportId"]))


def test_truncated_file_is_resumed_with_range_and_verified(sandbox, bulk, exporter):
    bulk.faults.truncate_file(times=1)
    status = completed(exporter)
    rows = list(exporter.stream_records(status["exportId"]))
    assert len(rows) == status["numberOfRecords"]
    first, second = file_calls(sandbox)
    assert first.status == 200 and first.header("Range") is None and first.response["bytes"] < status["fileSize"]
    assert second.status == 206 and second.header("Range") == f"bytes={first.response['bytes']}-"


def test_dropped_connection_is_resumed(sandbox, bulk, exporter):
    bulk.faults.drop_file_connection(times=1)
    status = completed(exporter)
    assert len(list(exporter.stream_records(status["exportId"]))) == status["numberOfRecords"]
    assert len(file_calls(sandbox)) == 2


def test_wrong_bytes_start_the_download_over(sandbox, bulk, exporter):
    bulk.faults.corrupt_file(times=1)
    status = completed(exporter)
    assert len(list(exporter.stream_records(status["exportId"]))) == status["numberOfRecords"]
    assert [(e.status, e.header("Range")) for e in file_calls(sandbox)] == [(200, None), (200, None)]


def test_checksum_that_never_matches_is_an_error(bulk, exporter):
    bulk.faults.corrupt_file(times=10)
    status = completed(exporter)
    with pytest.raises(BulkExportError) as caught:
        list(exporter.stream_records(status["exportId"]))
    assert caught.value.code == "bulk-checksum"


def test_expired_token_during_download_is_refreshed(sandbox, exporter):
    status = completed(exporter)
    sandbox.expire_token()
    rows = exporter.stream_records(status["exportId"], status["fileChecksum"], format="CSV")  # no status call first
    assert len(list(rows)) == status["numberOfRecords"]
    assert [e.codes for e in file_calls(sandbox)] == [("602",), ()]


def test_dirty_csv_is_parsed_right(sandbox, bulk, exporter):
    people = [
        {"email": "hana@sakura.jp", "firstName": "花子", "company": '株式会社サクラ, "東京"'},
        {"email": "multi@line.com", "firstName": "Ann", "company": "Line one\nline two"},
        {"email": "nul@x.com", "firstName": "Zoë", "company": None},
        {"email": "cr@x.com", "firstName": "Bob", "company": "Acme\r"},
    ]
    leads = sandbox.add_leads(people)
    sandbox.add_list("Dirty", [lead["id"] for lead in leads])
    bulk.faults.dirty_csv(every=1, misaligned_rows={3})
    status = exporter.wait(exporter.create(["id", "firstName", "company"], {"staticListName": "Dirty"}))
    raw = requests.get(f"{sandbox.url}/bulk/v1/leads/export/{status['exportId']}/file.json",
                       headers={"Authorization": f"Bearer {exporter.client.access_token()}"}).content
    assert b"\x00" in raw and b"\r\n" in raw and "株式会社".encode() in raw
    bad = []
    rows = list(exporter.stream_records(status["exportId"], on_bad_row=bad.append))
    assert [b.row_number for b in bad] == [3]
    assert [(r["firstName"], r["company"]) for r in rows] == [
        ("花子", '株式会社サクラ, "東京"'), ("Ann", "Line one\nline two"), ("Bob", "Acme")]
    with pytest.raises(BadRowError):
        list(exporter.stream_records(status["exportId"]))


# -- resuming after a crash ----------------------------------------------------------------------------
def test_resume_after_a_crash_skips_the_rows_done(sandbox, bulk, exporter):
    saved = []
    spec = ExportSpec(tuple(FIELDS), INVITEES)
    first_run = ResumableExport(exporter, spec, save=saved.append, checkpoint_every=50)
    seen = []
    for row in first_run.records():
        seen.append(row["id"])
        if len(seen) == 120:
            break  # the worker dies here
    assert saved[0] == {"export_id": first_run.state["export_id"], "rows_done": 0}
    checkpoint = saved[-1]
    assert checkpoint["rows_done"] == 100
    second_run = ResumableExport(exporter, spec, state=checkpoint, save=saved.append, checkpoint_every=50)
    rest = [row["id"] for row in second_run.records()]
    assert rest[0] == seen[100] and seen[:100] + rest == [str(i) for i in invitee_ids(sandbox)]
    assert second_run.new_exports == 0 and len(sandbox.journal.filter(path=r".*/create\.json")) == 1
    assert saved[-1] == {"export_id": checkpoint["export_id"], "rows_done": len(seen[:100] + rest)}


def test_resume_when_the_export_is_gone_starts_a_new_one(sandbox, bulk, exporter):
    spec = ExportSpec(tuple(FIELDS), INVITEES)
    old = exporter.wait(exporter.create(FIELDS, INVITEES))["exportId"]
    bulk.advance(8 * 86400)  # files are kept 7 days
    run = ResumableExport(exporter, spec, state={"export_id": old, "rows_done": 300})
    rows = list(run.records())
    assert run.new_exports == 1 and run.state["export_id"] != old
    assert len(rows) == len(invitee_ids(sandbox)) == run.state["rows_done"]
    unknown = ResumableExport(exporter, spec, state={"export_id": "no-such-export", "rows_done": 5})
    assert len(list(unknown.records())) == len(rows) and unknown.new_exports == 1


def test_resume_waits_for_an_export_still_running(bulk, exporter):
    bulk.processing_seconds = 900
    export_id = exporter.create(FIELDS, INVITEES)
    exporter.enqueue(export_id)
    run = ResumableExport(exporter, ExportSpec(tuple(FIELDS), INVITEES), state={"export_id": export_id, "rows_done": 0},
                          poll_interval=300)
    assert sum(1 for _ in run.records()) > 500 and run.new_exports == 0


def test_resume_of_a_failed_export_starts_over(bulk, exporter):
    bulk.faults.fail("boom")
    failed = exporter.create(FIELDS, INVITEES)
    exporter.enqueue(failed)
    run = ResumableExport(exporter, ExportSpec(tuple(FIELDS), INVITEES), state={"export_id": failed, "rows_done": 10})
    assert sum(1 for _ in run.records()) > 500 and run.new_exports == 1


# -- size -------------------------------------------------------------------------------------------
def test_streaming_20000_rows_keeps_memory_flat(sandbox, bulk, exporter):
    bulk.add_synthetic_leads(20_000, list_name="Big list", dirty=True)
    status = exporter.wait(exporter.create(["id", "email", "firstName", "lastName", "company", "title", "city",
                                            "createdAt"], {"staticListName": "Big list"}))
    assert status["numberOfRecords"] == 20_000 and status["fileSize"] > 1_500_000
    tracemalloc.start()
    try:
        count, last = 0, None
        for row in exporter.stream_records(status["exportId"]):
            count, last = count + 1, row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000 and last["company"]
    assert peak < status["fileSize"] / 4, f"peak {peak} bytes for a {status['fileSize']}-byte file"
