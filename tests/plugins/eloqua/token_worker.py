"""A worker process of the token-chain tests: its own engine, its own ``ConnectionState`` and its
own client, calling Eloqua while the access tokens keep expiring, as a second worker host would."""
from __future__ import annotations

import time


def spend(db_url: str, config_id: int, calls: int, pause: float, results) -> None:
    from connectors import ConnectionState
    from connectors.db import make_engine, session_factory
    from connectors.models import PluginConfig
    from connectors.secrets import SecretBox
    from connectors_eloqua.connection import client_for
    from connectors_eloqua.tokens import StateTokenStore

    engine = make_engine(db_url)
    factory = session_factory(engine)
    box = SecretBox("connectors-testing")
    with factory() as s:
        plain = dict(s.get(PluginConfig, config_id).connection or {})
    state = ConnectionState(factory, box, config_id)
    client = client_for({**plain, **state.load()}, token_store=StateTokenStore(state))
    errors = []
    for _ in range(calls):
        try:
            client.rest("GET", "data/contacts", params={"count": 1})
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(repr(exc))
        time.sleep(pause)
    results.put((client.auth.refreshes, errors))
    engine.dispose()
