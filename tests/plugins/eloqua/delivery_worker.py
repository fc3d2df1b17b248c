"""A dispatcher process of the kill tests: delivers one ledger row through the core's own
``deliver`` with the Eloqua plugin, until the test kills it."""
from __future__ import annotations


def deliver(db_url: str, delivery_id: int) -> None:
    import connectors_eloqua.plugin as plugin
    from connectors.db import make_engine, session_factory
    from connectors.jobs import deliveries
    from connectors.plugins import PluginManager
    from connectors.secrets import SecretBox

    registry = PluginManager()
    registry.add("eloqua", plugin)
    factory = session_factory(make_engine(db_url))
    deliveries.deliver(factory, registry, SecretBox("connectors-testing"), delivery_id, "doomed", lease_seconds=60)
