"""The Marketo job types."""
from .import_registrations import IMPORT_REGISTRATIONS

JOB_TYPES = (IMPORT_REGISTRATIONS,)
