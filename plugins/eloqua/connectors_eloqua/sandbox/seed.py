"""Demo data: an Eloqua instance preparing SUMMIT26 — a few hundred real-looking contacts (some
without a phone or a title, accents in names), the ``SUMMIT26 Invitees`` shared list, the two
custom objects the metrics jobs write, an event-attendance custom object with a few records,
external asset types with their activity types, and campaigns. Always the same for the same seed."""
from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

INVITEES_LIST = "SUMMIT26 Invitees"
NEWSLETTER_LIST = "Newsletter Subscribers"
ATTENDANCE_OBJECT = "Event Attendance"
ENGAGEMENT_OBJECT = "Certain Event Engagement"
INTEREST_OBJECT = "Certain Event Interest"
EVENT_ASSET_TYPE, SESSION_ASSET_TYPE, AGENDA_ASSET_TYPE = "Certain Event", "Certain Session", "Certain Agenda Item"
SUMMIT_CAMPAIGN, DRAFT_CAMPAIGN = 1001, 1002
STATUS_ACTIVITIES = ("Registered", "Attended", "Cancelled", "Waitlisted", "No Show")
AGENDA_ACTIVITIES = ("Registered", "Waitlisted", "Cancelled")

FIRST = ("Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Isabella", "Ethan", "Mia", "James",
         "Charlotte", "Amelia", "Priya", "Arjun", "Ananya", "Wei", "Mei", "Hiroshi", "Yuki", "José", "María", "Lucía",
         "Zoë", "Chloé", "Léa", "Hannah", "Jonas", "Søren", "Freja", "Łukasz", "Agnieszka", "Fatima", "Omar", "Kwame",
         "Amara", "Siobhan", "Niamh", "Grace", "Daniel", "Rachel", "Michael", "Jennifer", "David", "Sarah")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson",
        "Anderson", "Taylor", "Moore", "Martin", "Lee", "Thompson", "White", "Clark", "Walker", "King", "Patel",
        "Sharma", "Chen", "Wang", "Nakamura", "Tanaka", "Müller", "Schmidt", "Dubois", "Lefèvre", "Rossi",
        "Kowalski", "Nowak", "Jensen", "O'Brien", "Murphy", "Okafor", "Mensah", "Haddad", "Khan", "Silva", "Novak")
COMPANIES = (("Northwind Traders", "northwind.com"), ("Contoso Ltd", "contoso.com"), ("Fabrikam Inc", "fabrikam.com"),
             ("Globex Corporation", "globex.com"), ("Initech", "initech.com"), ("Acme Corporation", "acme.com"),
             ("Tailspin Toys", "tailspintoys.com"), ("Adventure Works", "adventure-works.com"),
             ("Litware Inc", "litware.com"), ("Woodgrove Bank", "woodgrovebank.com"), ("Coho Winery", "cohowinery.com"),
             ("Alpine Ski House", "alpineskihouse.com"), ("Trey Research", "treyresearch.net"),
             ("Nordlicht Software GmbH", "nordlicht-software.de"), ("Société Lumière SA", "lumiere.fr"),
             ("Sakura Systems KK", "sakura-systems.jp"), ("Maple Leaf Analytics", "mapleleafanalytics.ca"))
TITLES = ("Marketing Manager", "Director of Demand Generation", "VP Marketing", "Event Manager",
          "Senior Event Planner", "Field Marketing Manager", "Sales Director", "Account Executive",
          "Solutions Architect", "IT Director", "CTO", "Data Analyst", "Marketing Coordinator")
INDUSTRIES = ("Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Education")
PLACES = (("San Francisco", "CA", "United States", "941", "+1 415"), ("New York", "NY", "United States", "100", "+1 212"),
          ("Austin", "TX", "United States", "787", "+1 512"), ("Toronto", "ON", "Canada", "M5V", "+1 416"),
          ("London", "", "United Kingdom", "EC1A", "+44 20"), ("Dublin", "", "Ireland", "D02", "+353 1"),
          ("Berlin", "", "Germany", "101", "+49 30"), ("Paris", "", "France", "750", "+33 1"),
          ("Madrid", "", "Spain", "280", "+34 91"), ("Tokyo", "", "Japan", "100", "+81 3"),
          ("Bengaluru", "Karnataka", "India", "560", "+91 80"), ("Sydney", "NSW", "Australia", "2000", "+61 2"))
EPOCH = int(datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc).timestamp())


def seed_demo(sandbox: "EloquaSandbox", *, contacts: int = 400, invitees: int = 300, random_seed: int = 2026
              ) -> dict[str, Any]:
    """Fill ``sandbox`` and return the ids the demo and tests refer to."""
    rng = random.Random(random_seed)
    taken: set[str] = set()
    people = sandbox.add_contacts(_person(rng, i, taken) for i in range(contacts))
    ids = [p["id"] for p in people]
    invitee_ids = ids[:invitees]
    lists = {INVITEES_LIST: sandbox.add_list(INVITEES_LIST, invitee_ids, "Everyone invited to SUMMIT26"),
             NEWSLETTER_LIST: sandbox.add_list(NEWSLETTER_LIST, sorted(rng.sample(ids, 120)), "Monthly newsletter")}
    objects = seed_custom_objects(sandbox)
    attendance = sandbox.custom_objects.objects[objects[ATTENDANCE_OBJECT]]
    for contact_id in invitee_ids[:25]:
        email = sandbox.contact(contact_id)["C_EmailAddress"]
        sandbox.custom_objects.add_record(attendance, {
            attendance.field("AttendanceKey").id: f"WEBINAR25:{contact_id}", attendance.field("Email").id: email,
            attendance.field("EventCode").id: "WEBINAR25", attendance.field("Attended").id: rng.choice(("Yes", "No"))},
            contact_id)
    asset_types = {name: sandbox.add_asset_type(name, kinds) for name, kinds in (
        (EVENT_ASSET_TYPE, STATUS_ACTIVITIES), (SESSION_ASSET_TYPE, STATUS_ACTIVITIES),
        (AGENDA_ASSET_TYPE, AGENDA_ACTIVITIES))}
    sandbox.add_campaign("SUMMIT26 Event Campaign", SUMMIT_CAMPAIGN)
    sandbox.add_campaign("SUMMIT26 Follow-up (draft)", DRAFT_CAMPAIGN, status="Draft")
    return {"lists": lists, "custom_objects": objects, "asset_types": asset_types,
            "campaigns": {"active": SUMMIT_CAMPAIGN, "draft": DRAFT_CAMPAIGN}}


def seed_custom_objects(sandbox: "EloquaSandbox") -> dict[str, int]:
    """The custom objects of spec §8 (engagement, interest) and an event-attendance one."""
    return {
        ATTENDANCE_OBJECT: sandbox.add_custom_object(ATTENDANCE_OBJECT, [
            ("Attendance Key", "AttendanceKey"), ("Email", "Email"), ("Event Code", "EventCode"),
            ("Attended", "Attended"), ("Checked In At", "CheckedInAt", "date")],
            unique="AttendanceKey", email="Email", display_name="AttendanceKey",
            description="Who attended which event"),
        ENGAGEMENT_OBJECT: sandbox.add_custom_object(ENGAGEMENT_OBJECT, [
            ("Engagement Key", "EngagementKey"), ("Email Address", "EmailAddress"), ("Event Code", "EventCode"),
            ("Event Name", "EventName"), ("Registration Status", "RegistrationStatus"),
            ("Attendee Type", "AttendeeType"), ("Registered On", "RegisteredOn", "date"),
            ("Checked In", "CheckedIn"), ("Checked In At", "CheckedInAt", "date"),
            ("Sessions Registered", "SessionsRegistered", "numeric"),
            ("Sessions Attended", "SessionsAttended", "numeric"), ("Appointments", "Appointments", "numeric"),
            ("Engagement Score", "EngagementScore", "numeric"), ("Last Updated", "LastUpdated", "date")],
            unique="EngagementKey", email="EmailAddress", display_name="EngagementKey",
            description="Certain engagement metrics, one record per attendee per event"),
        INTEREST_OBJECT: sandbox.add_custom_object(INTEREST_OBJECT, [
            ("Interest Key", "InterestKey"), ("Email Address", "EmailAddress"), ("Event Code", "EventCode"),
            ("Tag", "Tag"), ("Score", "Score", "numeric"), ("Items Counted", "ItemsCounted", "numeric")],
            unique="InterestKey", email="EmailAddress", display_name="InterestKey",
            description="Certain interest scores, one record per attendee, event and tag"),
    }


def _person(rng: random.Random, index: int, taken: set[str]) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company, domain = rng.choice(COMPANIES)
    city, state, country, postal, phone = rng.choice(PLACES)
    email = f"{_ascii(first)}.{_ascii(last)}@{domain}".lower()
    if email in taken or rng.random() < 0.1:
        email = email.replace("@", f"{index}@")
    taken.add(email)
    created = EPOCH + rng.randrange(300 * 86400)
    person: dict[str, Any] = {
        "C_EmailAddress": email, "C_FirstName": first, "C_LastName": last, "C_Company": company, "C_City": city,
        "C_Country": country, "C_Zip_Postal": postal + (str(rng.randrange(10, 99)) if postal.isdigit() else ""),
        "C_Industry1": rng.choice(INDUSTRIES), "created_at": created, "updated_at": created + rng.randrange(60 * 86400),
    }
    if state:
        person["C_State_Prov"] = state
    if rng.random() < 0.9:
        person["C_Title"] = rng.choice(TITLES)
    if rng.random() < 0.8:
        person["C_BusPhone"] = f"{phone} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    return person


def _ascii(text: str) -> str:
    """Emails are ASCII: José O'Brien -> jose.obrien."""
    folded = unicodedata.normalize("NFKD", text.replace("Ł", "L").replace("ł", "l").replace("ø", "o"))
    return "".join(c for c in folded if c.isascii() and c.isalnum())
