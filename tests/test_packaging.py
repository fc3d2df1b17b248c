"""Layout and packaging as ARCHITECTURE §1 says: namespaced imports, plugins found by entry point."""
import subprocess
import sys
from importlib.metadata import distribution, entry_points


def test_no_top_level_core_web_or_bus_after_installation(tmp_path):
    code = ("import importlib.util, sys; "
            "print([m for m in ('core', 'web', 'bus') if importlib.util.find_spec(m) is not None])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_namespaced_packages_import():
    import connectors
    import connectors.bus
    import connectors.web

    assert connectors.bus.__name__ == "connectors.bus" and connectors.web.__name__ == "connectors.web"
    assert connectors.hookimpl is not None


def test_distributions_and_entry_points():
    assert distribution("connectors").metadata["Requires-Python"] == ">=3.11"
    found = {ep.name: ep.value for ep in entry_points(group="connectors")}
    assert found["marketo"] == "connectors_marketo.plugin"
    assert found["eloqua"] == "connectors_eloqua.plugin"
    assert distribution("connectors-marketo").version and distribution("connectors-eloqua").version
