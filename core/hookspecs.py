"""The hook specifications. Registration-shaped and few: arguments may be added, never renamed."""
import pluggy

hookspec = pluggy.HookspecMarker("connectors")
hookimpl = pluggy.HookimplMarker("connectors")


@hookspec
def register_applications(register):
    """Add target applications: ``register(Application(...))`` once per application."""


@hookspec
def register_job_types(register):
    """Add job types: ``register(JobType(...))`` once per job type."""
