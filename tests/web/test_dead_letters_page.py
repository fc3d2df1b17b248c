"""The Dead letters page: administrators see their own account's dead letters, read one, replay
or drop it (CSRF-protected forms, an outbox row for a replay); event builders get 403; another
account's dead letter and unreadable ones are not shown. ``/metrics`` counts the open ones."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connectors import dead_letters
from connectors.db import transaction
from connectors.models import DeadLetter, JobRun, Outbox

from .conftest import add_job, csrf_token, login, make_app

DIED = datetime(2026, 12, 8, 10, 0, tzinfo=timezone.utc)


def dead_run_command(session, run_id: int, message_id: str) -> int:
    body = json.dumps({"id": message_id, "type": "run.requested", "version": 1, "occurred_at": "2026-12-08T10:00:00Z",
                       "payload": {"run_id": run_id, "attempt": 0}})
    return dead_letters.record(session, body=body, reason="delivery_limit", queue="connectors.runs.v1",
                               died_at=DIED, exchange="connectors.commands", routing_key="runs",
                               message_type="run.requested", message_id=message_id)[0].id


@pytest.fixture
def letters(world) -> dict[str, int]:
    with transaction(world.services.factory) as s:
        job_id = add_job(s, world.ids["acme"], world.ids["ev1"], world.ids["config"], "ended", run_status="failed")
        acme_run = s.scalar(select(JobRun.id).where(JobRun.job_id == job_id))
        other_run = s.scalar(select(JobRun.id).where(JobRun.job_id == world.ids["other_job"]))
        ids = {"acme": dead_run_command(s, acme_run, f"run_{acme_run}_0"),
               "acme_second": dead_run_command(s, acme_run, f"run_{acme_run}_1"),
               "other": dead_run_command(s, other_run, f"run_{other_run}_0"),
               "unreadable": dead_letters.record(s, body="\x00garbage", reason="rejected",
                                                 queue="connectors.runs.v1", died_at=DIED)[0].id}
    ids["acme_run"] = acme_run
    return ids


def test_an_administrator_sees_the_list_and_a_detail_and_not_other_accounts(admin, letters):
    page = admin.get("/account/dead-letters/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Dead letters" in html
    for own in ("acme", "acme_second"):
        assert f'/account/dead-letters/{letters[own]}"' in html
    for hidden in ("other", "unreadable"):
        assert f'/account/dead-letters/{letters[hidden]}"' not in html
    assert "delivery_limit" in html and "connectors.runs.v1" in html and "run.requested" in html
    detail = admin.get(f"/account/dead-letters/{letters['acme']}").get_data(as_text=True)
    assert f"&#34;run_id&#34;: {letters['acme_run']}" in detail and "connectors.commands" in detail
    assert "Replay" in detail and "Drop" in detail
    assert "delivered as often as the queue allows" in detail  # the broker's code in words
    assert f"?run={letters['acme_run']}" in detail and f"run {letters['acme_run']} of job" in detail  # a link to it
    assert admin.get(f"/account/dead-letters/{letters['other']}").status_code == 404
    assert admin.get(f"/account/dead-letters/{letters['unreadable']}").status_code == 404
    assert admin.post(f"/account/dead-letters/{letters['other']}/replay").status_code == 404
    assert admin.get("/account/dead-letters/?status=bogus").status_code == 400
    for page in (str(2**70), "-3", "x"):  # a page no list has: the first, or an empty one, never a 500
        assert admin.get(f"/account/dead-letters/?page={page}").status_code == 200
    assert 'href="/account/dead-letters/"' in admin.get("/").get_data(as_text=True)  # the top bar's link


def test_replay_and_drop_need_csrf_and_write_the_outbox_row(world, letters):
    client = make_app(world, WTF_CSRF_ENABLED=True).test_client()
    assert login(client, "admin@acme.test", csrf_token=csrf_token(client.get("/login").get_data(as_text=True))
                 ).status_code == 302
    detail_url = f"/account/dead-letters/{letters['acme']}"
    token = csrf_token(client.get(detail_url).get_data(as_text=True))
    assert client.post(detail_url + "/replay").status_code == 400  # no CSRF token
    replayed = client.post(detail_url + "/replay", data={"csrf_token": token}, follow_redirects=True)
    assert replayed.status_code == 200 and "Replayed" in replayed.get_data(as_text=True)
    again = client.post(detail_url + "/replay", data={"csrf_token": token}, follow_redirects=True)
    assert again.status_code == 200 and "not changed: it is already replayed" in again.get_data(as_text=True)
    dropped = client.post(f"/account/dead-letters/{letters['acme_second']}/drop", data={"csrf_token": token})
    assert dropped.status_code == 302
    with world.session() as s:
        assert [(o.message_id, o.exchange, o.routing_key, o.type, o.payload) for o in s.scalars(select(Outbox))] == [
            (f"run_{letters['acme_run']}_0", "commands", "runs", "run.requested",
             {"run_id": letters["acme_run"], "attempt": 0})]
        states = {d.id: (d.status, d.handled_by) for d in s.scalars(select(DeadLetter))}
    admin_id = str(world.ids["admin"])
    assert states[letters["acme"]] == ("replayed", admin_id)
    assert states[letters["acme_second"]] == ("dropped", admin_id)
    listed = client.get("/account/dead-letters/").get_data(as_text=True)
    assert "No open dead letters" in listed
    assert f'/account/dead-letters/{letters["acme_second"]}"' in client.get("/account/dead-letters/?status=all").get_data(as_text=True)


def test_event_builders_get_403(builder, letters):
    assert builder.get("/account/dead-letters/").status_code == 403
    assert builder.get(f"/account/dead-letters/{letters['acme']}").status_code == 403
    assert builder.post(f"/account/dead-letters/{letters['acme']}/drop").status_code == 403
    assert "/account/dead-letters/" not in builder.get("/").get_data(as_text=True)


def test_metrics_counts_open_dead_letters_by_queue_without_a_login(client, world, letters):
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert 'connectors_dead_letters{queue="connectors.runs.v1"} 4.0' in text
    assert response.headers["Content-Type"].count("charset") == 1
    with transaction(world.services.factory) as s:
        dead_letters.drop(s, s.get(DeadLetter, letters["other"]), "cli")
    after = client.get("/metrics").get_data(as_text=True)
    assert 'connectors_dead_letters{queue="connectors.runs.v1"} 3.0' in after
    assert "connectors_dead_letters_open 3.0" in after
    assert "ACME" not in text and "run_" not in text  # counts only
