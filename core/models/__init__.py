"""SQLAlchemy models. Internal to the core: plugins see the store through ``JobContext``."""
from .access import EventAssignment, LoginFailure, LoginSession
from .agenda import (
    AGENDA_ITEM_STATUSES, SESSION_STATUSES, AgendaItem, AgendaItemRegistration, Session, SessionRegistration, Tag,
    TagPoints,
)
from .audit import AuditEntry
from .base import MAX_ID, Base, UTCDateTime, utcnow
from .dead_letters import DEAD_LETTER_STATUSES, DeadLetter
from .deliveries import DELIVERY_STATES, Delivery
from .tokens import TOKEN_SCOPES, ApiToken, UserApiToken
from .connector import DIRECTIONS, UPDATE_POLICIES, FieldMapping, PluginConfig
from .events import Outbox, StatusChangeEvent
from .plugin_tasks import TASK_KINDS, TASK_STATUSES, PluginTask
from .status_mappings import StatusMapping
from .jobs import (
    ENDED_RUN_STATUSES, JOB_STATES, OUTCOMES, RUN_STATUSES, Job, JobRun, LedgerEntry, RunRecord, Schedule,
)
from .store import (
    CLASSIFICATIONS, PROFILE_FIELDS, ROLES, Account, AttendeeType, Event, ExternalId, Profile, Registration,
    RegistrationStatus, User,
)

__all__ = [
    "EventAssignment", "LoginFailure", "LoginSession",
    "AuditEntry", "TASK_KINDS", "TASK_STATUSES", "PluginTask", "StatusMapping",
    "TOKEN_SCOPES", "ApiToken", "UserApiToken",
    "DELIVERY_STATES", "Delivery",
    "DEAD_LETTER_STATUSES", "DeadLetter",
    "AGENDA_ITEM_STATUSES", "SESSION_STATUSES", "AgendaItem", "AgendaItemRegistration", "Session",
    "SessionRegistration", "Tag", "TagPoints", "LedgerEntry",
    "MAX_ID", "Base", "UTCDateTime", "utcnow", "DIRECTIONS", "UPDATE_POLICIES", "FieldMapping", "PluginConfig",
    "Outbox", "StatusChangeEvent", "ENDED_RUN_STATUSES", "JOB_STATES", "OUTCOMES", "RUN_STATUSES",
    "Job", "JobRun", "RunRecord", "Schedule", "CLASSIFICATIONS", "PROFILE_FIELDS", "ROLES", "Account",
    "AttendeeType", "Event", "ExternalId", "Profile", "Registration", "RegistrationStatus", "User",
]
