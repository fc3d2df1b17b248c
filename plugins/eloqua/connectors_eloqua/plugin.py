"""The plugin's hook implementations: what it adds to the platform (job types come later)."""
from __future__ import annotations

from connectors import hookimpl

from .application import ELOQUA
from .connection import EloquaConnection

__all__ = ["register_applications", "ELOQUA", "EloquaConnection"]


@hookimpl
def register_applications(register):
    register(ELOQUA)
