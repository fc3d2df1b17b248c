"""The Marketo job types."""
from .import_registrations import IMPORT_REGISTRATIONS
from .engagement import UPLOAD_ENGAGEMENT
from .interest import UPLOAD_INTEREST
from .create_update_leads import CREATE_UPDATE_LEADS
from .trigger_campaign import TRIGGER_CAMPAIGN
from .import_profiles import IMPORT_PROFILES

JOB_TYPES = (IMPORT_REGISTRATIONS, UPLOAD_ENGAGEMENT, UPLOAD_INTEREST)
JOB_TYPES += (CREATE_UPDATE_LEADS, TRIGGER_CAMPAIGN, IMPORT_PROFILES)
