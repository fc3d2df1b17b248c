"""A local Eloqua for tests and the demo: ``start_sandbox()`` or ``python -m connectors_eloqua.sandbox``."""
from __future__ import annotations

from .app import EloquaSandbox
from .bulk_faults import SyncScript
from .seed import (
    AGENDA_ASSET_TYPE, ATTENDANCE_OBJECT, DRAFT_CAMPAIGN, ENGAGEMENT_OBJECT, EVENT_ASSET_TYPE, INTEREST_OBJECT,
    INVITEES_LIST, NEWSLETTER_LIST, SESSION_ASSET_TYPE, SUMMIT_CAMPAIGN, seed_custom_objects, seed_demo,
)

__all__ = ["EloquaSandbox", "SyncScript", "start_sandbox", "seed_demo", "seed_custom_objects", "INVITEES_LIST",
           "NEWSLETTER_LIST", "ATTENDANCE_OBJECT", "ENGAGEMENT_OBJECT", "INTEREST_OBJECT", "EVENT_ASSET_TYPE",
           "SESSION_ASSET_TYPE", "AGENDA_ASSET_TYPE", "SUMMIT_CAMPAIGN", "DRAFT_CAMPAIGN"]


def start_sandbox(port: int = 0, site: str = "DemoCompany", user: str = "demo.user", password: str = "demo-password",
                  seed: bool = True, host: str = "127.0.0.1", **options) -> EloquaSandbox:
    """A started sandbox (``.url`` is the login host, ``.connection``, ``.stop()``), seeded with
    the demo data unless ``seed`` is false. ``options`` go to ``EloquaSandbox`` (client_id,
    client_secret, pods, access_ttl, refresh_ttl, revoke_on_refresh, clock)."""
    sandbox = EloquaSandbox(site, user, password, **options)
    if seed:
        seed_demo(sandbox)
    return sandbox.start(port=port, host=host)
