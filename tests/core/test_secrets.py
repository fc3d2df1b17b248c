"""Connection secrets are sealed at rest and only opened for a run."""
from sqlalchemy import select, text

from connectors.db import transaction
from connectors.models import PluginConfig
from connectors.secrets import SecretBox
from connectors.testing import Harness

from . import sample_plugin


def test_secret_fields_are_encrypted_at_rest(tmp_path):
    h = Harness(tmp_path, plugins={"sample": sample_plugin})
    h.configure("sample", {"url": "http://sample.test", "token": "tok-very-secret"})
    with h.engine.connect() as conn:
        raw = " ".join(str(v) for v in conn.execute(text("SELECT * FROM plugin_configs")).one())
    assert "tok-very-secret" not in raw and "http://sample.test" in raw
    with transaction(h.factory) as s:
        config = s.scalar(select(PluginConfig))
        assert "token" not in config.connection
        assert h.box.open(config.secrets) == {"token": "tok-very-secret"}


def test_another_key_cannot_open_them():
    sealed = SecretBox("key-one").seal({"token": "x"})
    try:
        SecretBox("key-two").open(sealed)
    except ValueError as exc:
        assert "CONNECTORS_SECRET_KEY" in str(exc)
    else:
        raise AssertionError("opened with the wrong key")
