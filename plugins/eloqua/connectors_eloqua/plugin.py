"""The plugin's hook implementations: what it adds to the platform."""
from __future__ import annotations

from connectors import hookimpl

from .application import ELOQUA
from .connection import EloquaConnection
from .jobs import JOB_TYPES

__all__ = ["register_applications", "register_job_types", "ELOQUA", "EloquaConnection"]


@hookimpl
def register_applications(register):
    register(ELOQUA)


@hookimpl
def register_job_types(register):
    for job_type in JOB_TYPES:
        register(job_type)
