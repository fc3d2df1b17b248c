"""The demo's pieces (what ``connectors demo`` starts) inside the test process, so that a browser
test can read the sandboxes' request journals: ``tests/e2e/demo_app.py`` runs the demo as a
user does, in a process of its own, whose sandboxes the test cannot reach into.

Same steps as ``connectors.cli.cmd_demo``: migrate a fresh SQLite database, start each
application's sandbox, seed the demo account against them, start the embedded bus (relay,
worker, event dispatcher, scheduler as threads) and serve the admin; here on a werkzeug server
thread instead of ``app.run``. The kombu ``memory://`` transport is shared by the whole process,
so each demo gets a bus namespace of its own.
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
    from connectors.bus import Embedded
    from connectors.config import Settings
    from connectors.db import transaction
    from connectors.migrations import upgrade
    from connectors.seed import seed_demo
    from connectors.services import Services
    from connectors.web import create_app

    settings = Settings(instance_dir=workdir / "instance", database_url=None, broker_url="memory://",
                        bus_namespace=f"e2e-{uuid.uuid4().hex[:8]}", secure_cookies=False)
    upgrade(settings.database_url)
    services = Services.from_settings(settings)
    with ExitStack() as stack:
        stack.callback(services.close)
        sandboxes: dict[str, Any] = {}
        for name, app in sorted(services.registry.applications.items()):
            if app.sandbox:
                sandboxes[name] = app.sandbox(port=0)
                stack.callback(sandboxes[name].stop)
        with transaction(services.factory) as s:
            seed_demo(s, services.registry, services.box, {n: box.connection for n, box in sandboxes.items()})
        embedded = Embedded(services).start()
        stack.callback(embedded.stop)
        server = make_server("127.0.0.1", 0, create_app(services), threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="e2e-admin", daemon=True)
        thread.start()
        stack.callback(thread.join, 10)
        stack.callback(server.shutdown)
        yield EmbeddedDemo(url=f"http://127.0.0.1:{server.server_port}/", sandboxes=sandboxes, services=services)
