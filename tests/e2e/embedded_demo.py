"""The demo's pieces (what ``connectors demo`` starts) inside the test process, so that a browser
test can read the sandboxes' request journals: ``tests/e2e/demo_app.py`` runs the demo as a
user does, in a process of its own, whose sandboxes the test cannot reach into.

A fresh SQLite database, then ``connectors.cli.demo_pieces`` (the sandboxes, the seeded demo
account, the embedded bus), and the admin on a werkzeug server thread instead of ``app.run``.
The kombu ``memory://`` transport is shared by the whole process, so each demo gets a bus
namespace of its own.
"""
from __future__ import annotations

import threading
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from werkzeug.serving import make_server


@dataclass
class EmbeddedDemo:
    url: str                    # the admin's base URL, ending in "/"
    sandboxes: dict[str, Any]   # application name ("eloqua", "marketo") -> its running sandbox
    services: Any               # connectors.services.Services, to look at the database


@contextmanager
def embedded_demo(workdir: Path) -> Iterator[EmbeddedDemo]:
    from connectors.cli import demo_pieces
    from connectors.config import Settings
    from connectors.migrations import upgrade
    from connectors.services import Services
    from connectors.web import create_app

    settings = Settings(instance_dir=workdir / "instance", database_url=None, broker_url="memory://",
                        bus_namespace=f"e2e-{uuid.uuid4().hex[:8]}", secure_cookies=False)
    upgrade(settings.database_url)
    services = Services.from_settings(settings)
    with ExitStack() as stack:
        stack.callback(services.close)
        sandboxes = stack.enter_context(demo_pieces(services))
        server = make_server("127.0.0.1", 0, create_app(services), threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="e2e-admin", daemon=True)
        thread.start()
        stack.callback(thread.join, 10)
        stack.callback(server.shutdown)
        yield EmbeddedDemo(url=f"http://127.0.0.1:{server.server_port}/", sandboxes=sandboxes, services=services)
