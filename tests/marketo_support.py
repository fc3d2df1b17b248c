"""Fixtures for the tests outside the plugin's own folder that need Marketo: its sandbox (with a
known client secret) and a harness configured against it. A test module imports both names
(``from ..marketo_support import marketo, sandbox  # noqa: F401``) for pytest to find them."""
from __future__ import annotations

import pytest

import connectors_marketo.plugin
from connectors.testing import Harness
from connectors_marketo.sandbox import start_sandbox

CLIENT_SECRET = "marketo-sandbox-secret"


@pytest.fixture
def sandbox():
    box = start_sandbox(client_secret=CLIENT_SECRET)
    yield box
    box.stop()


@pytest.fixture
def marketo(tmp_path, sandbox):
    """A temporary database (account TEST, event TEST26) with Marketo configured against the sandbox."""
    harness = Harness(tmp_path, plugins={"marketo": connectors_marketo.plugin})
    harness.configure("marketo", sandbox.connection)
    yield harness
    harness.close()
