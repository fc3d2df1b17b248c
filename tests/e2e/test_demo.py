"""The walking skeleton as a user meets it: `connectors demo` running, a job submitted from
another terminal with the CLI, picked up by the demo, and shown in the admin."""
import json
import re
import subprocess
import sys

import pytest
import requests

from .demo_app import DemoFailed, running_demo


@pytest.fixture
def demo(tmp_path):
    try:
        with running_demo(tmp_path) as running:
            yield {"url": running.url, "env": running.env, "cwd": tmp_path, "banner": running.banner}
    except DemoFailed as exc:
        pytest.fail(str(exc))


def cli(demo, *args):
    return subprocess.run([sys.executable, "-m", "connectors", *args], env=demo["env"], cwd=demo["cwd"],
                          capture_output=True, text=True, timeout=120)


def login(url, user, password):
    s = requests.Session()
    page = s.get(url + "login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = s.post(url + "login", data={"csrf_token": token, "login": user, "password": password})
    assert resp.ok and "Sign in" not in resp.text, resp.text[:500]
    return s


def test_demo_runs_a_cli_submitted_import_and_the_admin_shows_it(demo):
    assert "admin@demo.example" in demo["banner"] and "builder@demo.example" in demo["banner"]
    params = json.dumps({"static_list_name": "SUMMIT26 Invitees"})
    out = cli(demo, "jobs", "submit", "--event", "SUMMIT26", "--type", "marketo.import_leads_as_registrations",
              "--params", params, "--wait", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    run = json.loads(out.stdout)
    assert run["status"] in ("succeeded", "partially_failed")
    assert run["counters"]["created"] >= 480
    again = json.loads(cli(demo, "jobs", "submit", "--event", "SUMMIT26", "--type",
                           "marketo.import_leads_as_registrations", "--params", params, "--wait", "--json").stdout)
    assert again["counters"].get("created", 0) == 0  # the same import twice creates nothing new

    shown = json.loads(cli(demo, "jobs", "show", str(run["run_id"]), "--json").stdout)
    assert shown["status"] == run["status"]
    assert any(p["code"] for p in shown["problems"])  # leads without email are reported with a reason

    bad = cli(demo, "jobs", "submit", "--event", "SUMMIT26", "--type", "marketo.import_leads_as_registrations",
              "--params", json.dumps({"page_size": 1000}), "--json")
    assert bad.returncode == 2
    errors = json.loads(bad.stdout)["errors"]
    assert "params.page_size" in errors and "params.static_list_name" in errors

    builder = login(demo["url"], "builder@demo.example", "demo-builder")
    page = builder.get(demo["url"] + "events/SUMMIT26/connectors")
    assert page.ok and "Import Marketo Leads as Registrations" in page.text
