"""A local Marketo for tests and the demo: ``start_sandbox()`` or ``python -m connectors_marketo.sandbox``."""
from __future__ import annotations

from .app import MarketoSandbox
from .seed import (
    CONFIRMATION_CAMPAIGN, FOLLOW_UP_CAMPAIGN, INVITATION_CAMPAIGN, INVITEES_LIST, REMINDER_CAMPAIGN, WEBFORM_CAMPAIGN,
    seed_campaigns, seed_demo,
)

__all__ = ["MarketoSandbox", "start_sandbox", "seed_demo", "seed_campaigns", "INVITEES_LIST", "CONFIRMATION_CAMPAIGN",
           "FOLLOW_UP_CAMPAIGN", "INVITATION_CAMPAIGN", "REMINDER_CAMPAIGN", "WEBFORM_CAMPAIGN"]


def start_sandbox(port: int = 0, client_id: str = "demo-client", client_secret: str = "demo-secret",
                  seed: bool = True, host: str = "127.0.0.1", **options) -> MarketoSandbox:
    """A started sandbox (``.url``, ``.connection``, ``.stop()``), seeded with the demo data
    unless ``seed`` is false. ``options`` go to ``MarketoSandbox`` (token_ttl, rate_limit,
    max_concurrency, daily_quota, clock…)."""
    sandbox = MarketoSandbox(client_id, client_secret, **options)
    if seed:
        seed_demo(sandbox)
    return sandbox.start(port=port, host=host)
