"""The Marketo application the plugin registers: schema, field discovery, check, mappings, sandbox."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from marshmallow import ValidationError

import connectors_marketo.plugin
from connectors.testing import check_plugin_contract
from connectors_marketo.application import MARKETO


def test_plugin_passes_the_contract_and_registers_marketo():
    registry = check_plugin_contract(connectors_marketo.plugin, "marketo")
    assert registry.applications["marketo"] is MARKETO
    assert MARKETO.label == "Marketo"


def test_connection_schema_loads_sandbox_settings_and_marks_the_secret(sandbox):
    schema = MARKETO.connection_schema()
    loaded = schema.load(sandbox.connection)
    assert loaded["rest_endpoint"].startswith("http://127.0.0.1:") and loaded["munchkin_id"] is None
    assert schema.fields["client_secret"].metadata["secret"] is True
    assert not schema.fields["client_id"].metadata.get("secret")
    with pytest.raises(ValidationError) as caught:
        schema.load({"rest_endpoint": "not a url"})
    assert {"rest_endpoint", "identity_endpoint", "client_id", "client_secret"} <= set(caught.value.messages)


def test_describe_fields_gives_remote_fields(sandbox):
    fields = {f.name: f for f in MARKETO.describe_fields(sandbox.connection)}
    assert fields["email"].label == "Email Address" and fields["email"].data_type == "email"
    assert fields["id"].read_only and fields["createdAt"].read_only and not fields["company"].read_only
    assert "certainAttendeeId" in fields


def test_check_succeeds_against_the_sandbox(sandbox):
    result = MARKETO.check(sandbox.connection)
    assert result.ok and "14 lead fields" in result.message
    assert sandbox.journal.count(path="/identity/oauth/token") == 1


def test_check_reports_bad_credentials_and_unreachable_hosts(sandbox):
    bad = MARKETO.check(dict(sandbox.connection, client_secret="wrong"))
    assert not bad.ok and "Bad client credentials" in bad.message
    settings = sandbox.connection
    sandbox.stop()
    down = MARKETO.check(settings | {"client_id": "other"})
    assert not down.ok


def test_default_mappings_match_leads_by_email_both_ways():
    for direction in ("inbound", "outbound"):
        chosen = [m for m in MARKETO.default_mappings if m.direction == direction]
        assert [m.remote_field for m in chosen if m.is_match_key] == ["email"]
        assert len(chosen) == 10
    mappings = {m.remote_field: m for m in MARKETO.default_mappings if m.direction == "inbound"}
    assert mappings["email"].certain_field == "profile.email"
    assert mappings["email"].is_match_key and mappings["email"].required
    assert mappings["company"].certain_field == "profile.organization"
    assert mappings["title"].certain_field == "profile.position"
    assert mappings["postalCode"].certain_field == "profile.postal_code"
    assert len(mappings) == 10


def test_sandbox_hook_starts_a_seeded_sandbox():
    sandbox = MARKETO.sandbox(port=0)
    try:
        assert sandbox.url.startswith("http://127.0.0.1:")
        assert MARKETO.connection_schema().load(sandbox.connection)["client_id"] == "demo-client"
        assert MARKETO.check(sandbox.connection).ok
        assert sandbox.find_list("SUMMIT26 Invitees")
    finally:
        sandbox.stop()
    empty = MARKETO.sandbox(port=0, client_id="c", client_secret="s", seed=False)
    try:
        assert empty.leads == [] and empty.connection["client_secret"] == "s"
    finally:
        empty.stop()


def test_sandbox_runs_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "connectors_marketo.sandbox", "--port", "0", "--client-id", "cli", "--client-secret", "pw"],
        stdout=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = lines[1].split()[3]
        assert lines[0].startswith("seeded 600 leads") and "SUMMIT26 Invitees" in lines[0]
        token = requests.post(f"{url}/identity/oauth/token", data={
            "grant_type": "client_credentials", "client_id": "cli", "client_secret": "pw"}, timeout=5).json()
        lists = requests.get(f"{url}/rest/v1/lists.json", params={"name": "SUMMIT26 Invitees"}, timeout=5,
                             headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        assert lists["success"] and lists["result"][0]["name"] == "SUMMIT26 Invitees"
    finally:
        process.terminate()
        process.wait(timeout=5)
