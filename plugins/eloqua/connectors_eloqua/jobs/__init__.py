"""The Eloqua job types."""
from . import activities, contact_list, create_update_contacts, engagement, import_contacts, interest

JOB_TYPES = (*import_contacts.JOB_TYPES, *contact_list.JOB_TYPES, *create_update_contacts.JOB_TYPES,
             *engagement.JOB_TYPES, *interest.JOB_TYPES, *activities.JOB_TYPES)
