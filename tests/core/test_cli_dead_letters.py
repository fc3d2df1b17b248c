"""``connectors dead-letters list | show | replay | drop`` against a real database."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from connectors import cli, dead_letters
from connectors.db import transaction
from connectors.models import DeadLetter, Outbox

from .test_dead_letters import DIED, a_run, record


@pytest.fixture
def cli_env(db_url, factory, monkeypatch, tmp_path):
    monkeypatch.setenv("CONNECTORS_DATABASE_URL", db_url)
    monkeypatch.setenv("CONNECTORS_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CONNECTORS_SECRET_KEY", "test-key")
    monkeypatch.setenv("CONNECTORS_DISABLED_PLUGINS", "marketo,eloqua")
    return factory


def test_list_show_replay_and_drop(cli_env, capsys):
    factory = cli_env
    with transaction(factory) as s:
        _, run_id = a_run(s, "ACME")
        replayable = record(s, f"run_{run_id}_0", run_id)[0].id
        garbled = dead_letters.record(s, body="{not json", reason="rejected", queue="connectors.runs.v1",
                                      died_at=DIED)[0].id

    assert cli.main(["dead-letters", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 2 and {d["id"] for d in listed["dead_letters"]} == {replayable, garbled}

    assert cli.main(["dead-letters", "show", str(replayable)]) == 0
    shown = capsys.readouterr().out
    assert "delivery_limit" in shown and '"run_id": ' + str(run_id) in shown and "connectors.commands" in shown

    assert cli.main(["dead-letters", "replay", str(replayable)]) == 0
    assert cli.main(["dead-letters", "replay", str(garbled)]) == 2
    assert "not a readable message envelope" in capsys.readouterr().err
    assert cli.main(["dead-letters", "drop", str(garbled)]) == 0
    assert cli.main(["dead-letters", "drop", str(garbled)]) == 2
    assert cli.main(["dead-letters", "show", "999999"]) == 2
    capsys.readouterr()

    with factory() as s:
        assert [(o.message_id, o.exchange, o.routing_key) for o in s.scalars(select(Outbox))] == [
            (f"run_{run_id}_0", "commands", "runs")]
        assert {d.id: (d.status, d.handled_by) for d in s.scalars(select(DeadLetter))} == {
            replayable: ("replayed", "cli"), garbled: ("dropped", "cli")}
    assert cli.main(["dead-letters", "list"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "0 dead letters (open)" in out.err
    assert cli.main(["dead-letters", "list", "--status", "all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 2


def test_an_id_no_row_can_have_is_a_usage_error(capsys):
    """Past the databases' integer, zero or not a number: argparse says so (exit 2), no database error."""
    for argv in (["dead-letters", "show", str(2**70)], ["dead-letters", "replay", "0"],
                 ["tokens", "revoke", "x", "--account", "ACME"], ["jobs", "show", str(2**40)]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "an id is between 1 and 2147483647" in err and "'x' is not an id" in err
