"""Connectors: an open, plugin-based connector platform for event-management data.

This module is the public API for plugin authors; everything else in the package is internal.
"""
from .connection_keys import ConnectionSettings, CredentialsKey, credentials_key
from .connection_state import ConnectionState, StateBusy
from .hookspecs import hookimpl
from .jobs.context import JobContext, LeaseLost
from .jobs.event_context import EventContext
from .mapping import Mapping, Mappings
from .plugin_api import (
    Application, CheckResult, DeliveryUncertain, JobFailed, JobType, MappingDefault, QuotaExhausted, RemoteField,
)
from .selection import (
    REGISTRATION_FILTER_CHOICES, RegistrationFilterParams, mapping_source, registration_filters, registration_key,
)
from .store import EventInfo, RegistrationView, UpsertResult

__version__ = "0.1.0"

__all__ = [
    "hookimpl", "Application", "JobType", "JobContext", "EventContext", "JobFailed", "QuotaExhausted", "LeaseLost", "RemoteField", "CheckResult",
    "MappingDefault", "Mapping", "Mappings", "UpsertResult", "EventInfo", "RegistrationView",
    "ConnectionState", "StateBusy", "DeliveryUncertain", "ConnectionSettings", "CredentialsKey", "credentials_key",
    "REGISTRATION_FILTER_CHOICES", "RegistrationFilterParams", "registration_filters", "registration_key", "mapping_source",
]
