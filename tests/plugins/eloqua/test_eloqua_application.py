"""The Eloqua application the plugin registers: connection schema (Basic or OAuth), field
discovery, the connection check, default mappings, the sandbox hook and its command line."""
from __future__ import annotations

import base64
import subprocess
import sys

import pytest
import requests
from marshmallow import ValidationError

import connectors_eloqua.plugin
from connectors.testing import check_plugin_contract
from connectors_eloqua.application import ELOQUA


def test_plugin_passes_the_contract_and_registers_eloqua():
    registry = check_plugin_contract(connectors_eloqua.plugin, "eloqua")
    assert registry.applications["eloqua"] is ELOQUA
    assert ELOQUA.label == "Oracle Eloqua"


def test_connection_schema_takes_basic_or_oauth_and_marks_secrets(sandbox):
    schema = ELOQUA.connection_schema()
    basic = schema.load(sandbox.connection)
    assert basic["login_url"] == sandbox.url and basic["client_id"] is None
    assert schema.load({"site": "Acme", "username": "u", "password": "p"})["login_url"] == "https://login.eloqua.com"
    oauth = schema.load({"site": "Acme", "client_id": "c", "client_secret": "s", "refresh_token": "r"})
    assert oauth["refresh_token"] == "r" and oauth["username"] is None
    assert schema.load({"site": "Acme", "client_id": "c", "client_secret": "s", "username": "u", "password": "p"})
    secrets = {name for name, field in schema.fields.items() if field.metadata.get("secret")}
    assert secrets == {"password", "client_secret", "refresh_token"}
    for incomplete, field in (({"site": "Acme", "username": "u"}, "password"),
                              ({"site": "Acme", "client_id": "c", "refresh_token": "r"}, "client_secret"),
                              ({"site": "Acme", "client_id": "c", "client_secret": "s"}, "refresh_token"),
                              ({"username": "u", "password": "p"}, "site")):
        with pytest.raises(ValidationError) as caught:
            schema.load(incomplete)
        assert field in caught.value.messages


def test_describe_fields_lists_contact_fields_by_internal_name(sandbox):
    fields = {f.name: f for f in ELOQUA.describe_fields(sandbox.connection)}
    assert fields["C_EmailAddress"].label == "Email Address" and fields["C_EmailAddress"].data_type == "emailAddress"
    assert fields["C_DateModified"].read_only and not fields["C_FirstName"].read_only
    assert "C_Certain_Attendee_ID1" in fields


def test_check_with_basic_and_oauth_and_its_failures(sandbox):
    result = ELOQUA.check(sandbox.connection)
    assert result.ok and "DemoCompany" in result.message and sandbox.pod_url() in result.message
    assert "(basic)" in result.message and "22 contact fields" in result.message
    oauth = ELOQUA.check(sandbox.oauth_connection())
    assert oauth.ok and "(oauth)" in oauth.message
    bad = ELOQUA.check(dict(sandbox.connection, password="wrong"))
    assert not bad.ok and "Not authenticated" in bad.message
    settings = dict(sandbox.connection, username="someone.else")
    sandbox.stop()
    assert not ELOQUA.check(settings).ok


def test_default_mappings_match_contacts_by_email_both_ways():
    for direction in ("inbound", "outbound"):
        chosen = {m.remote_field: m for m in ELOQUA.default_mappings if m.direction == direction}
        assert len(chosen) == 10
        assert [name for name, m in chosen.items() if m.is_match_key] == ["C_EmailAddress"]
        assert chosen["C_EmailAddress"].required and chosen["C_EmailAddress"].certain_field == "profile.email"
        assert chosen["C_Company"].certain_field == "profile.organization"
        assert chosen["C_State_Prov"].certain_field == "profile.state"
        assert chosen["C_Zip_Postal"].certain_field == "profile.postal_code"


def test_sandbox_hook_starts_a_seeded_sandbox():
    box = ELOQUA.sandbox(port=0)
    try:
        assert box.url.startswith("http://127.0.0.1:") and box.pod_url() != box.url
        assert ELOQUA.connection_schema().load(box.connection)["site"] == "DemoCompany"
        assert ELOQUA.check(box.connection).ok
        assert box.find_list("SUMMIT26 Invitees")
    finally:
        box.stop()
    empty = ELOQUA.sandbox(port=0, site="Acme", user="ann", password="pw", seed=False, client_id="c",
                           client_secret="s")
    try:
        assert empty.all_contacts() == [] and empty.connection["site"] == "Acme"
        assert ELOQUA.check(empty.oauth_connection()).ok
    finally:
        empty.stop()


def test_sandbox_runs_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors_eloqua.sandbox", "--port", "0", "--site", "CliCo", "--user", "cli",
         "--password", "pw"], stdout=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].startswith("seeded 400 contacts") and "SUMMIT26 Invitees" in lines[0]
        login_url = lines[1].split()[5]
        auth = {"Authorization": "Basic " + base64.b64encode(b"CliCo\\cli:pw").decode()}
        base = requests.get(f"{login_url}/id", headers=auth, timeout=5).json()["urls"]["base"]
        assert base != login_url
        lists = requests.get(f"{base}/api/bulk/2.0/contacts/lists", headers=auth, timeout=5).json()
        assert lists["items"][0]["name"] == "SUMMIT26 Invitees"
        token = requests.post(f"{login_url}/auth/oauth2/token", auth=("demo-client", "demo-secret"), timeout=5,
                              data={"grant_type": "password", "username": "CliCo\\cli", "password": "pw"})
        assert token.status_code == 200 and token.json()["refresh_token"]
    finally:
        process.terminate()
        process.wait(timeout=5)
