"""The plugin's hook implementations: what it adds to the platform."""
from __future__ import annotations

from connectors import hookimpl

from .application import MARKETO


@hookimpl
def register_applications(register):
    register(MARKETO)
