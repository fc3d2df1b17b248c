"""The plugin's hook implementations: what it adds to the platform."""
from __future__ import annotations

from connectors import hookimpl

from .application import MARKETO
from .jobs import JOB_TYPES


@hookimpl
def register_applications(register):
    register(MARKETO)


@hookimpl
def register_job_types(register):
    for job_type in JOB_TYPES:
        register(job_type)
