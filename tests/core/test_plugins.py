"""The plugin manager: entry points loaded one by one, broken plugins listed, keys unique."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from connectors import Application, JobType, hookimpl
from connectors.plugins import PluginManager
from connectors.testing import check_plugin_contract

from . import sample_plugin


def install_fake_distribution(root: Path, dist: str, plugin: str, module_source: str) -> None:
    """A real installed distribution: a module plus a dist-info with a ``connectors`` entry point."""
    module = f"{plugin}_plugin_mod"
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[connectors]\n{plugin} = {module}\n")


BROKEN_IMPORT = "raise ImportError('missing dependency: leftpad')\n"
BROKEN_HOOK = """
from connectors import hookimpl
@hookimpl
def register_job_types(register):
    raise RuntimeError('boom while registering')
"""
GOOD = """
from marshmallow import Schema, fields
from connectors import Application, JobType, hookimpl
class Conn(Schema):
    url = fields.String()
class Params(Schema):
    n = fields.Integer(metadata={"label": "N"})
@hookimpl
def register_applications(register):
    register(Application(name="good", label="Good", connection_schema=Conn))
@hookimpl
def register_job_types(register):
    register(JobType(key="good.count", label="Count", application="good", scope="event", params_schema=Params, run=lambda ctx, p: None))
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path, "connectors-broken", "broken", BROKEN_IMPORT)
    install_fake_distribution(tmp_path, "connectors-badhook", "badhook", BROKEN_HOOK)
    install_fake_distribution(tmp_path, "connectors-good", "good", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_broken_plugins_are_listed_and_the_others_keep_working(site):
    pm = PluginManager().load_entry_points()
    errors = {e.plugin: e.error for e in pm.load_errors}
    assert "missing dependency: leftpad" in errors["broken"]
    assert "boom while registering" in errors["badhook"]
    assert "good.count" in pm.job_types
    assert "marketo.import_leads_as_registrations" in pm.job_types  # the installed plugin still loads
    good = next(p for p in pm.plugins() if p.name == "good")
    assert (good.distribution, good.version, good.job_types) == ("connectors-good", "1.2.3", ("good.count",))
    assert "badhook" not in [p.name for p in pm.plugins()]


def test_block_list_keeps_a_plugin_out(site):
    pm = PluginManager(disabled={"good", "broken"}).load_entry_points()
    assert "good.count" not in pm.job_types
    assert "broken" not in {e.plugin for e in pm.load_errors}


def test_cli_lists_plugins_and_load_errors(site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(site), "CONNECTORS_INSTANCE_DIR": str(tmp_path / "instance")}
    out = subprocess.run([sys.executable, "-m", "connectors", "plugins", "--json"], env=env, capture_output=True,
                         text=True, check=True).stdout
    data = json.loads(out)
    errors = {e["plugin"]: e["error"] for e in data["load_errors"]}
    assert "missing dependency: leftpad" in errors["broken"] and "boom" in errors["badhook"]
    names = {p["name"]: p for p in data["plugins"]}
    assert names["marketo"]["distribution"] == "connectors-marketo"
    assert "marketo.import_leads_as_registrations" in names["marketo"]["job_types"]
    text_out = subprocess.run([sys.executable, "-m", "connectors", "plugins"], env=env, capture_output=True,
                              text=True, check=True).stdout
    assert "LOAD ERROR broken" in text_out and "good.count" in text_out


def test_duplicate_keys_are_rejected():
    pm = PluginManager()
    assert pm.add("sample", sample_plugin)

    class Again:
        @hookimpl
        def register_job_types(self, register):
            register(JobType(key="sample.import_people", label="x", application="sample", scope="event",
                             params_schema=sample_plugin.ImportPeopleParams, run=lambda c, p: None))

    assert not pm.add("again", Again())
    assert "duplicate job type key 'sample.import_people'" in pm.load_errors[-1].error
    assert pm.job_type("sample.import_people").run is sample_plugin.import_people


def test_job_type_of_unknown_application_is_rejected():
    class Orphan:
        @hookimpl
        def register_job_types(self, register):
            register(JobType(key="nope.x", label="x", application="nope", scope="event",
                             params_schema=sample_plugin.ImportPeopleParams, run=lambda c, p: None))

    pm = PluginManager()
    assert not pm.add("orphan", Orphan())
    assert "unknown application 'nope'" in pm.load_errors[0].error


def test_wrong_registration_type_and_bad_hook_signature():
    class WrongType:
        @hookimpl
        def register_applications(self, register):
            register({"name": "dict"})

    class BadSignature:
        @hookimpl
        def register_applications(self, register, extra):
            pass

    pm = PluginManager()
    assert not pm.add("wrong", WrongType())
    assert not pm.add("badsig", BadSignature())
    assert "not Application" in pm.load_errors[0].error
    assert "invalid hooks" in pm.load_errors[1].error


def test_sample_plugin_passes_the_contract():
    registry = check_plugin_contract(sample_plugin)
    assert isinstance(registry.application("sample"), Application)


def test_disabled_plugins_variable_reaches_the_cli(site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(site), "CONNECTORS_INSTANCE_DIR": str(tmp_path / "instance"),
           "CONNECTORS_DISABLED_PLUGINS": "broken, good"}
    data = json.loads(subprocess.run([sys.executable, "-m", "connectors", "plugins", "--json"], env=env,
                                     capture_output=True, text=True, check=True).stdout)
    assert data["disabled"] == ["broken", "good"]
    assert "good" not in {p["name"] for p in data["plugins"]}
    assert "broken" not in {e["plugin"] for e in data["load_errors"]}
