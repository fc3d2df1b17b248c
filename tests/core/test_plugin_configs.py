"""Plugin configuration changes: secrets write-only and sealed, validation naming the field,
mapping rules, status mappings, the audit trail, and the worker's remote-call tasks — against
SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from connectors import Application, CheckResult, RemoteField, audit, hookimpl, plugin_tasks
from connectors.db import transaction
from connectors.mapping_rules import normalise_row, validate_mappings, validate_status_mappings
from connectors.models import AuditEntry, Outbox, PluginConfig, PluginTask, User
from connectors.plugin_configs import (
    ConfigError, save_connection, save_mappings, save_status_mappings, set_enabled, status_rows,
)
from connectors.plugins import PluginManager
from connectors.secrets import SecretBox
from connectors.seed import get_or_create_account, get_or_create_event, get_or_create_user

SECRET = "s3cr3t-Value-0042"


class Conn(Schema):
    base_url = fields.Url(required=True, require_tld=False, metadata={"label": "Base URL"})
    api_key = fields.String(required=True, metadata={"secret": True})
    refresh_token = fields.String(load_default=None, allow_none=True, metadata={"secret": True})
    calls_per_window = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


def check(connection):
    if connection["api_key"] != SECRET:
        return CheckResult(False, f"key {connection['api_key']} refused by {connection['base_url']}")
    return CheckResult(True, "connected")


def describe(connection):
    return [RemoteField("email", "Email"), RemoteField("firstName", "First name"), RemoteField("id", "Id", read_only=True)]


def rotating_check(connection, *, state):
    """A check that spends a single-use credential and must keep the new one."""
    state.save({"refresh_token": "rotated-" + str(connection.get("refresh_token"))})
    return CheckResult(True, "rotated")


class Plugin:
    @hookimpl
    def register_applications(self, register):
        register(Application(name="acmecrm", label="Acme CRM", connection_schema=Conn, check=check,
                             describe_fields=describe))
        register(Application(name="rotcrm", label="Rotating CRM", connection_schema=Conn, check=rotating_check))


@pytest.fixture
def registry():
    reg = PluginManager()
    assert reg.add("acme", Plugin()), reg.load_errors
    return reg


@pytest.fixture
def box():
    return SecretBox("test-key")


@pytest.fixture
def seeded(factory):
    with transaction(factory) as s:
        account = get_or_create_account(s, "ACME", "Acme")
        event = get_or_create_event(s, account, "EV1", "Event")
        user = get_or_create_user(s, account, "ada@acme.test", "Ada", "administrator", "pw")
        return {"account": account.id, "user": user.id, "event": event.id}


def create(factory, registry, box, seeded, **values):
    with transaction(factory) as s:
        user = s.get(User, seeded["user"])
        submitted = {"base_url": "http://crm.test", "api_key": SECRET, **values}
        return save_connection(s, registry, box, account_id=seeded["account"], user=user, application="acmecrm",
                               submitted=submitted).id


def update(factory, registry, box, seeded, config_id, submitted, clear=()):
    with transaction(factory) as s:
        config = s.get(PluginConfig, config_id)
        save_connection(s, registry, box, account_id=seeded["account"], user=s.get(User, seeded["user"]),
                        application="acmecrm", submitted=submitted, config=config, clear=clear)


def audit_rows(factory):
    with factory() as s:
        return [(e.action, e.actor, e.before, e.after) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_secrets_are_sealed_and_audited_only_as_states(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    with factory() as s:
        config = s.get(PluginConfig, config_id)
        assert config.connection == {"base_url": "http://crm.test", "calls_per_window": 50}
        assert SECRET not in config.secrets and box.open(config.secrets) == {"api_key": SECRET}
    rows = audit_rows(factory)
    assert [r[:2] for r in rows] == [("connection.create", "ada@acme.test")]
    assert rows[0][3]["secrets"] == {"api_key": "changed", "refresh_token": "not set"}
    assert SECRET not in json.dumps(rows)


def test_a_blank_secret_keeps_its_value_and_a_typed_one_replaces_it(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    update(factory, registry, box, seeded, config_id, {"base_url": "http://crm2.test", "api_key": ""})
    with factory() as s:
        assert box.open(s.get(PluginConfig, config_id).secrets)["api_key"] == SECRET
    update(factory, registry, box, seeded, config_id, {"base_url": "http://crm2.test", "api_key": "new-key-9999",
                                                       "refresh_token": "rt-1234"})
    with factory() as s:
        assert box.open(s.get(PluginConfig, config_id).secrets) == {"api_key": "new-key-9999", "refresh_token": "rt-1234"}
    update(factory, registry, box, seeded, config_id, {"base_url": "http://crm2.test"}, clear=["refresh_token"])
    with factory() as s:
        assert box.open(s.get(PluginConfig, config_id).secrets) == {"api_key": "new-key-9999"}
    rows = audit_rows(factory)
    assert [r[0] for r in rows] == ["connection.create", "connection.update", "connection.update", "connection.update"]
    assert rows[1][2]["connection"]["base_url"] == "http://crm.test" and rows[1][3]["connection"]["base_url"] == "http://crm2.test"
    assert rows[1][3]["secrets"]["api_key"] == "set"  # kept, not changed
    assert rows[2][3]["secrets"] == {"api_key": "changed", "refresh_token": "changed"}
    assert rows[3][3]["secrets"]["refresh_token"] == "not set"
    dumped = json.dumps(rows)
    assert "new-key-9999" not in dumped and "rt-1234" not in dumped and SECRET not in dumped


def test_saving_the_same_settings_writes_no_audit_row(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    update(factory, registry, box, seeded, config_id, {"base_url": "http://crm.test", "api_key": SECRET})
    assert len(audit_rows(factory)) == 1


def test_validation_errors_name_the_field_and_change_nothing(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    with pytest.raises(ConfigError) as exc:
        update(factory, registry, box, seeded, config_id, {"base_url": "not a url", "calls_per_window": 500})
    assert set(exc.value.messages) == {"connection.base_url", "connection.calls_per_window"}
    assert "Not a valid URL." in exc.value.messages["connection.base_url"]
    with factory() as s:
        assert s.get(PluginConfig, config_id).connection["base_url"] == "http://crm.test"
    with pytest.raises(ConfigError) as exc:  # a required secret never stored, not typed
        with transaction(factory) as s:
            other = get_or_create_account(s, "OTHER", "Other")
            save_connection(s, registry, box, account_id=other.id, user=None, application="acmecrm",
                            submitted={"base_url": "http://x.test"})
    assert exc.value.messages == {"connection.api_key": ["Missing data for required field."]}
    with pytest.raises(ConfigError) as exc:
        create(factory, registry, box, seeded)
    assert "application" in exc.value.messages


def test_enabling_and_disabling_is_audited(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    with transaction(factory) as s:
        assert set_enabled(s, s.get(PluginConfig, config_id), False, None, "Acme CRM")
        assert not set_enabled(s, s.get(PluginConfig, config_id), False, None, "Acme CRM")
    assert audit_rows(factory)[-1] == ("config.disable", "system", {"enabled": True}, {"enabled": False})


def rows(*specs):
    return [normalise_row(dict(zip(("direction", "certain_field", "remote_field"), spec[:3]), **(spec[3] if len(spec) > 3 else {})))
            for spec in specs]


REMOTE = {f.name: f for f in describe({})}


def test_mapping_rules():
    good = rows(("inbound", "profile.email", "email", {"is_match_key": True}), ("outbound", "profile.email", "email"),
                ("outbound", "registration.status_label", "firstName"))
    assert validate_mappings(good, REMOTE) == {}
    assert validate_mappings(rows(("outbound", "profile.first_name", "firstName")), REMOTE) == {
        "mappings": ["The outbound mappings need one for profile.email: people are matched by e-mail, and a record "
                     "without one is skipped."]}
    errors = validate_mappings(rows(("inbound", "profile.email", "emial"), ("outbound", "profile.email", "id"),
                                    ("inbound", "registration.status_label", "email"), ("sideways", "profile.x", ""),
                                    ("inbound", "profile.email", "firstName")), REMOTE, "Acme CRM")
    assert errors["mappings.0.remote_field"] == ["Acme CRM has no field 'emial'."]
    assert errors["mappings.1.remote_field"] == ["id is read-only in Acme CRM: it cannot be sent."]
    assert errors["mappings.2.certain_field"] == ["registration.status_label is only sent, never written by inbound jobs."]
    assert errors["mappings.3.direction"] and errors["mappings.3.certain_field"] and errors["mappings.3.remote_field"]
    assert errors["mappings.4.certain_field"] == ["profile.email is already filled by row 1 (inbound)."]
    two_keys = rows(("inbound", "profile.email", "email", {"is_match_key": True}),
                    ("inbound", "profile.first_name", "firstName", {"is_match_key": True}),
                    ("outbound", "profile.email", "email", {"is_match_key": True}))
    assert validate_mappings(two_keys, None) == {
        "mappings.1.is_match_key": ["Only one match key per direction: row 1 is already the inbound match key."]}
    assert validate_mappings(rows(("inbound", "profile.email", "anything", {"transform": "rot13"})), None) == {
        "mappings.0.transform": ["Transform must be one of none, trim, lowercase, uppercase."]}


def test_status_mapping_rules():
    ok = [{"direction": "outbound", "certain_status": "Attended", "remote_status": "Attended", "event_id": None},
          {"direction": "outbound", "certain_status": "Attended", "remote_status": "Visited", "event_id": 7}]
    assert validate_status_mappings(ok, ["Attended"], [7]) == {}
    bad = ok + [{"direction": "outbound", "certain_status": "Attended", "remote_status": "X", "event_id": None},
                {"direction": "inbound", "certain_status": "Nope", "remote_status": "", "event_id": 8}]
    errors = validate_status_mappings(bad, ["Attended"], [7])
    assert errors == {"status_mappings.2.certain_status": ["Attended is already mapped by row 1 (outbound)."],
                      "status_mappings.3.certain_status": ["No event of this account has the status 'Nope'."],
                      "status_mappings.3.remote_status": ["Enter the remote status or activity type."],
                      "status_mappings.3.event_id": ["Not an event of this account."]}


def test_saving_mappings_replaces_them_in_order_and_audits(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    new = [{"direction": "outbound", "certain_field": "profile.email", "remote_field": "email", "is_match_key": "1"},
           {"direction": "outbound", "certain_field": "profile.first_name", "remote_field": "firstName",
            "update_policy": "only_if_blank"}]
    with transaction(factory) as s:
        save_mappings(s, s.get(PluginConfig, config_id), new, user=None, remote_fields=REMOTE, label="Acme CRM")
    with transaction(factory) as s:  # the same again: nothing to audit
        save_mappings(s, s.get(PluginConfig, config_id), new, user=None, remote_fields=REMOTE, label="Acme CRM")
    with factory() as s:
        saved = [(m.position, m.remote_field, m.update_policy, m.is_match_key) for m in s.get(PluginConfig, config_id).mappings]
    assert saved == [(0, "email", "overwrite", True), (1, "firstName", "only_if_blank", False)]
    entries = audit_rows(factory)
    assert [e[0] for e in entries] == ["connection.create", "mappings.update"]
    assert audit.changes(entries[1][2], entries[1][3]) == [
        "added direction=outbound, certain_field=profile.email, remote_field=email, transform=none, "
        "update_policy=overwrite, is_match_key=yes, required=no",
        "added direction=outbound, certain_field=profile.first_name, remote_field=firstName, transform=none, "
        "update_policy=only_if_blank, is_match_key=no, required=no"]
    with pytest.raises(ConfigError) as exc, transaction(factory) as s:
        save_mappings(s, s.get(PluginConfig, config_id), new[1:], user=None, remote_fields=REMOTE, label="Acme CRM")
    assert list(exc.value.messages) == ["mappings"]
    with factory() as s:
        assert len(s.get(PluginConfig, config_id).mappings) == 2


def test_saving_status_mappings(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    new = [{"direction": "outbound", "certain_status": "Attended", "remote_status": "Attended", "event_id": ""},
           {"direction": "outbound", "certain_status": "Cancelled", "remote_status": "Not attending",
            "event_id": str(seeded["event"])}]
    with transaction(factory) as s:
        save_status_mappings(s, s.get(PluginConfig, config_id), new, user=None, label="Acme CRM")
    with factory() as s:
        assert status_rows(s, s.get(PluginConfig, config_id)) == [
            {"direction": "outbound", "certain_status": "Attended", "remote_status": "Attended", "event_id": None},
            {"direction": "outbound", "certain_status": "Cancelled", "remote_status": "Not attending",
             "event_id": seeded["event"]}]
    assert audit_rows(factory)[-1][0] == "status_mappings.update"


def updated_at(factory, config_id):
    with factory() as s:
        return s.get(PluginConfig, config_id).updated_at


def test_mapping_saves_bump_the_configurations_updated_at(factory, registry, box, seeded):
    """Caches keyed by ``updated_at`` must see a mapping change; saving the same rows is no change."""
    config_id = create(factory, registry, box, seeded)
    fields_ = [{"direction": "outbound", "certain_field": "profile.email", "remote_field": "email", "is_match_key": "1"}]
    statuses = [{"direction": "outbound", "certain_status": "Attended", "remote_status": "Attended", "event_id": ""}]
    stamps = [updated_at(factory, config_id)]
    for save, rows in ((lambda s, c, r: save_mappings(s, c, r, user=None, remote_fields=REMOTE, label="Acme CRM"), fields_),
                       (lambda s, c, r: save_status_mappings(s, c, r, user=None, label="Acme CRM"), statuses)):
        with transaction(factory) as s:
            save(s, s.get(PluginConfig, config_id), rows)
        stamps.append(updated_at(factory, config_id))
        with transaction(factory) as s:  # the same rows again: not a change
            save(s, s.get(PluginConfig, config_id), rows)
        assert updated_at(factory, config_id) == stamps[-1]
    assert stamps[0] < stamps[1] < stamps[2]
    with transaction(factory) as s:  # the configuration's read-only relationship shows the saved rows at once
        config = s.get(PluginConfig, config_id)
        assert [m.certain_status for m in config.status_mappings] == ["Attended"]
        save_status_mappings(s, config, [], user=None, label="Acme CRM")
        assert config.status_mappings == [] and config.updated_at > stamps[2]


def test_audit_refuses_a_snapshot_with_a_secret_value(factory, seeded):
    with pytest.raises(ValueError, match="secret"), transaction(factory) as s:
        audit.record(s, account_id=seeded["account"], user=None, action="x", target_type="t", target_id=1,
                     after={"connection": {"api_key": "leak"}}, secret_names=["api_key"])
    assert audit.changes({"a": 1, "s": {"k": "set"}}, {"a": 2, "s": {"k": "changed"}}) == ["a: 1 → 2", "s.k: set → changed"]
    assert audit.changes([{"a": 1}, {"a": 2}], [{"a": 2}, {"a": 1}]) == ["reordered"]
    assert audit.changes([{"a": 1}, {"a": 2}], [{"a": 2}, {"a": 3}]) == ["removed a=1", "added a=3"]


def test_tasks_are_asked_once_claimed_once_and_recorded(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    with transaction(factory) as s:
        config = s.get(PluginConfig, config_id)
        first = plugin_tasks.request(s, config, "check", None)
        again = plugin_tasks.request(s, config, "check", None)
        assert again.id == first.id  # a double click asks once
        task_id = first.id
    with factory() as s:
        assert [(o.type, o.payload, o.message_id) for o in s.scalars(select(Outbox))] == [
            ("plugin.task.requested", {"task_id": task_id}, f"plugintask_{task_id}")]
    assert plugin_tasks.claim(factory, task_id, "w1") and not plugin_tasks.claim(factory, task_id, "w2")
    outcome = plugin_tasks.execute(factory, registry, box, task_id)
    assert outcome.ok and outcome.message == "connected"
    with factory() as s:
        task, config = s.get(PluginTask, task_id), s.get(PluginConfig, config_id)
        assert (task.status, task.ok, task.worker) == ("succeeded", True, "w1")
        assert config.last_test_result == "OK: connected" and config.last_tested_at == task.ended_at


def test_a_failed_check_is_recorded_without_the_secret(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded, api_key="wrong-key-123")
    with transaction(factory) as s:
        task_id = plugin_tasks.request(s, s.get(PluginConfig, config_id), "check", None).id
    plugin_tasks.claim(factory, task_id, "w1")
    outcome = plugin_tasks.execute(factory, registry, box, task_id)
    assert not outcome.ok and outcome.message == "key •••• refused by http://crm.test"
    with factory() as s:
        assert s.get(PluginConfig, config_id).last_test_result == "Failed: key •••• refused by http://crm.test"


def test_field_discovery_is_cached_and_a_stale_task_can_be_asked_again(factory, registry, box, seeded):
    config_id = create(factory, registry, box, seeded)
    with factory() as s:
        assert plugin_tasks.discovered_fields(s, config_id) is None
    with transaction(factory) as s:
        task_id = plugin_tasks.request(s, s.get(PluginConfig, config_id), "describe_fields", None).id
    plugin_tasks.claim(factory, task_id, "w1")
    plugin_tasks.execute(factory, registry, box, task_id)
    with factory() as s:
        found, at = plugin_tasks.discovered_fields(s, config_id)
    assert sorted(found) == ["email", "firstName", "id"] and found["id"].read_only and at is not None
    with transaction(factory) as s:  # a check nobody answers turns stale after the timeout
        config = s.get(PluginConfig, config_id)
        lost = plugin_tasks.request(s, config, "check", None)
        lost.requested_at -= plugin_tasks.TASK_TIMEOUT + timedelta(seconds=1)
        assert plugin_tasks.view(lost)["status"] == "unanswered" and not plugin_tasks.view(lost)["active"]
        fresh = plugin_tasks.request(s, config, "check", None)
        assert fresh.id != lost.id and lost.status == "failed"


def test_a_check_that_rotates_a_credential_keeps_the_new_one(factory, registry, box, seeded):
    with transaction(factory) as s:
        config = save_connection(s, registry, box, account_id=seeded["account"], user=None, application="rotcrm",
                                 submitted={"base_url": "http://rot.test", "api_key": SECRET, "refresh_token": "rt1"})
        task_id = plugin_tasks.request(s, config, "check", None).id
        config_id = config.id
    plugin_tasks.claim(factory, task_id, "w1")
    assert plugin_tasks.execute(factory, registry, box, task_id).ok
    with factory() as s:
        assert box.open(s.get(PluginConfig, config_id).secrets) == {"api_key": SECRET, "refresh_token": "rotated-rt1"}


def test_secrets_sealed_with_another_key_must_be_typed_again(factory, registry, seeded):
    config_id = create(factory, registry, SecretBox("old-key"), seeded)
    new_box = SecretBox("new-key")
    with pytest.raises(ConfigError) as exc:
        update(factory, registry, new_box, seeded, config_id, {"base_url": "http://crm.test"})
    assert exc.value.messages == {"connection.api_key": ["Missing data for required field."]}
    update(factory, registry, new_box, seeded, config_id, {"base_url": "http://crm.test", "api_key": "typed-again"})
    with factory() as s:
        assert new_box.open(s.get(PluginConfig, config_id).secrets) == {"api_key": "typed-again"}
