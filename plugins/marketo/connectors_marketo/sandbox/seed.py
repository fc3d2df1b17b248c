"""Demo data: a Marketo instance preparing SUMMIT26, with the untidiness of a real database
(leads without email, the same email on two leads, accents, missing phones), always the same
for the same seed so demos and tests can count on it."""
from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox

INVITEES_LIST = "SUMMIT26 Invitees"
VIP_LIST = "SUMMIT26 VIP Prospects"
NEWSLETTER_LIST = "Newsletter Subscribers"
WEBINAR_LIST = "Q3 Webinar Attendees"

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Isabella", "Ethan", "Mia", "James",
    "Charlotte", "Benjamin", "Amelia", "Elijah", "Harper", "Henry", "Evelyn", "Alexander", "Priya", "Arjun",
    "Ananya", "Rahul", "Wei", "Mei", "Hiroshi", "Yuki", "Sakura", "Kenji", "José", "María", "Lucía", "Diego",
    "Camila", "Sofía", "Zoë", "Chloé", "Léa", "Théo", "Hannah", "Jonas", "Lena", "Lukas", "Søren", "Freja",
    "Łukasz", "Agnieszka", "Fatima", "Omar", "Aisha", "Kwame", "Amara", "Chidi", "Siobhan", "Niamh", "Connor",
    "Aoife", "Grace", "Daniel", "Rachel", "Michael", "Jennifer", "David", "Sarah", "Robert", "Laura", "Thomas",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "King", "Wright", "Patel",
    "Sharma", "Iyer", "Chen", "Wang", "Nakamura", "Tanaka", "Suzuki", "Müller", "Schmidt", "Schneider", "Fischer",
    "Dubois", "Lefèvre", "Moreau", "Rossi", "Bianchi", "Kowalski", "Nowak", "Jensen", "Nielsen", "O'Brien",
    "O'Connor", "Murphy", "Okafor", "Mensah", "Haddad", "Khan", "Silva", "Santos", "Novak", "van der Berg",
)
COMPANIES = (
    ("Northwind Traders", "northwind.com"), ("Contoso Ltd", "contoso.com"), ("Fabrikam Inc", "fabrikam.com"),
    ("Globex Corporation", "globex.com"), ("Initech", "initech.com"), ("Umbrella Health", "umbrellahealth.com"),
    ("Stark Industries", "starkindustries.com"), ("Wayne Enterprises", "wayne-ent.com"),
    ("Acme Corporation", "acme.com"), ("Blue Yonder Airlines", "blueyonderair.com"), ("Tailspin Toys", "tailspintoys.com"),
    ("Adventure Works", "adventure-works.com"), ("Litware Inc", "litware.com"), ("Proseware", "proseware.com"),
    ("Wide World Importers", "wideworldimporters.com"), ("Woodgrove Bank", "woodgrovebank.com"),
    ("Coho Winery", "cohowinery.com"), ("Lucerne Publishing", "lucernepublishing.com"),
    ("Alpine Ski House", "alpineskihouse.com"), ("Trey Research", "treyresearch.net"),
    ("Margie's Travel", "margiestravel.com"), ("Fourth Coffee", "fourthcoffee.com"),
    ("Datum Corporation", "adatum.com"), ("Southridge Video", "southridgevideo.com"),
    ("Humongous Insurance", "humongousinsurance.com"), ("Graphic Design Institute", "graphicdesigninstitute.com"),
    ("Nordlicht Software GmbH", "nordlicht-software.de"), ("Société Lumière SA", "lumiere.fr"),
    ("Sakura Systems KK", "sakura-systems.jp"), ("Tata Cloudworks", "tatacloudworks.in"),
    ("Maple Leaf Analytics", "mapleleafanalytics.ca"), ("Harbour Bridge Partners", "harbourbridge.com.au"),
)
TITLES = (
    "Marketing Manager", "Director of Demand Generation", "VP Marketing", "Chief Marketing Officer",
    "Marketing Operations Specialist", "Event Manager", "Senior Event Planner", "Field Marketing Manager",
    "Product Marketing Manager", "Sales Director", "Account Executive", "Customer Success Manager",
    "Head of Partnerships", "Software Engineer", "Solutions Architect", "IT Director", "CTO", "CEO",
    "Data Analyst", "Marketing Coordinator", "Brand Manager", "Communications Lead", "Procurement Manager",
)
# (city, state, country, postal code pattern, phone prefix)
PLACES = (
    ("San Francisco", "CA", "United States", "941##", "+1 415"), ("New York", "NY", "United States", "100##", "+1 212"),
    ("Austin", "TX", "United States", "787##", "+1 512"), ("Chicago", "IL", "United States", "606##", "+1 312"),
    ("Boston", "MA", "United States", "021##", "+1 617"), ("Seattle", "WA", "United States", "981##", "+1 206"),
    ("Denver", "CO", "United States", "802##", "+1 303"), ("Atlanta", "GA", "United States", "303##", "+1 404"),
    ("Toronto", "ON", "Canada", "M5V #A#", "+1 416"), ("Vancouver", "BC", "Canada", "V6B #A#", "+1 604"),
    ("London", None, "United Kingdom", "EC1A #BB", "+44 20"), ("Manchester", None, "United Kingdom", "M1 #AE", "+44 161"),
    ("Dublin", None, "Ireland", "D02 X###", "+353 1"), ("Berlin", None, "Germany", "101##", "+49 30"),
    ("München", "Bavaria", "Germany", "803##", "+49 89"), ("Paris", None, "France", "750##", "+33 1"),
    ("Lyon", None, "France", "690##", "+33 4"), ("Amsterdam", None, "Netherlands", "10## AB", "+31 20"),
    ("Copenhagen", None, "Denmark", "1###", "+45"), ("Warsaw", None, "Poland", "00-###", "+48 22"),
    ("Madrid", None, "Spain", "280##", "+34 91"), ("São Paulo", "SP", "Brazil", "01###-000", "+55 11"),
    ("Mexico City", "CDMX", "Mexico", "06###", "+52 55"), ("Tokyo", None, "Japan", "100-####", "+81 3"),
    ("Bengaluru", "Karnataka", "India", "5600##", "+91 80"), ("Singapore", None, "Singapore", "0#####", "+65"),
    ("Sydney", "NSW", "Australia", "2###", "+61 2"), ("Lagos", None, "Nigeria", "1000##", "+234 1"),
)
EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)

#: seeded smart campaigns, by fixed id so tests and demo jobs can name them
CONFIRMATION_CAMPAIGN = 1001  # trigger, active, requestable: what "Trigger Marketo Campaign" runs
FOLLOW_UP_CAMPAIGN = 1002     # trigger, active, requestable
INVITATION_CAMPAIGN = 1003    # batch: cannot be requested (1003)
REMINDER_CAMPAIGN = 1004      # trigger, inactive (1003)
WEBFORM_CAMPAIGN = 1005       # trigger, active, but triggered by a form, not by the API (1003)


def seed_demo(sandbox: "MarketoSandbox", *, invitees: int = 520, random_seed: int = 2026) -> dict[str, int]:
    """Fill ``sandbox`` with the demo data and return the list ids by list name.

    ``SUMMIT26 Invitees`` holds ``invitees`` leads: about 3% without email and about 2% that
    reuse the email of another invitee (a duplicate lead). Smaller lists overlap with it.
    """
    rng = random.Random(random_seed)
    taken: set[str] = set()
    records = [_person(rng, i, taken) for i in range(invitees)]
    for record in rng.sample(records, round(invitees * 0.03)):
        record.pop("email")
    with_email = [r for r in records if "email" in r]
    duplicates = rng.sample(with_email, round(invitees * 0.02) * 2)
    for original, copy in zip(duplicates[::2], duplicates[1::2]):
        copy["email"] = original["email"]  # the same person entered twice, e.g. via two forms
    leads = sandbox.add_leads(records)
    invitee_ids = [lead["id"] for lead in leads]
    outsiders = sandbox.add_leads(_person(rng, invitees + i, taken) for i in range(80))
    outsider_ids = [lead["id"] for lead in outsiders]

    lists = {
        INVITEES_LIST: sandbox.add_list(INVITEES_LIST, invitee_ids, description="Everyone invited to SUMMIT26"),
        VIP_LIST: sandbox.add_list(VIP_LIST, sorted(rng.sample(invitee_ids, 25)), description="Executive track"),
        NEWSLETTER_LIST: sandbox.add_list(
            NEWSLETTER_LIST, sorted(rng.sample(invitee_ids, 60) + rng.sample(outsider_ids, 60)),
            program_name="Newsletter", description="Monthly newsletter opt-ins"),
        WEBINAR_LIST: sandbox.add_list(WEBINAR_LIST, sorted(rng.sample(outsider_ids, 12)), program_name="Q3 Webinar"),
    }
    seed_campaigns(sandbox)
    return {name: record["id"] for name, record in lists.items()}


def seed_campaigns(sandbox: "MarketoSandbox") -> None:
    """The SUMMIT26 program's campaigns: requestable ones and each kind that must be refused."""
    program = "SUMMIT26 Program"
    sandbox.add_campaign("SUMMIT26 - Registration Confirmation", campaign_id=CONFIRMATION_CAMPAIGN,
                         program_name=program, description="Campaign is Requested (Web Service API): confirm")
    sandbox.add_campaign("SUMMIT26 - Attendee Follow-up", campaign_id=FOLLOW_UP_CAMPAIGN, program_name=program,
                         description="Campaign is Requested (Web Service API): thank attendees")
    sandbox.add_campaign("SUMMIT26 - Invitation Blast", campaign_id=INVITATION_CAMPAIGN, type="batch",
                         program_name=program, description="Scheduled batch send to the invitee list")
    sandbox.add_campaign("SUMMIT26 - Reminder", campaign_id=REMINDER_CAMPAIGN, active=False, program_name=program,
                         description="Campaign is Requested, not activated yet")
    sandbox.add_campaign("Newsletter - Welcome", campaign_id=WEBFORM_CAMPAIGN, requestable=False,
                         program_name="Newsletter", description="Fills Out Form trigger")


def _person(rng: random.Random, index: int, taken: set[str]) -> dict[str, Any]:
    """A plausible lead whose email is not in ``taken`` (duplicates are added on purpose only)."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company, domain = rng.choice(COMPANIES)
    city, state, country, postal, phone_prefix = rng.choice(PLACES)
    created = EPOCH + timedelta(seconds=rng.randrange(300 * 86400))
    updated = created + timedelta(seconds=rng.randrange(60 * 86400))
    email = f"{_ascii(first)}.{_ascii(last)}@{domain}".lower()
    if email in taken or rng.random() < 0.1:
        email = email.replace("@", f"{index}@")
    taken.add(email)
    person: dict[str, Any] = {
        "email": email,
        "firstName": first, "lastName": last, "company": company, "city": city, "country": country,
        "postalCode": _fill(rng, postal), "createdAt": _iso(created), "updatedAt": _iso(updated),
    }
    if state:
        person["state"] = state
    if rng.random() < 0.9:
        person["title"] = rng.choice(TITLES)
    if rng.random() < 0.8:
        person["phone"] = f"{phone_prefix} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
    return person


def _ascii(text: str) -> str:
    """Emails must be ASCII in Marketo: José O'Brien -> jose.obrien."""
    folded = unicodedata.normalize("NFKD", text.replace("Ł", "L").replace("ł", "l").replace("ø", "o").replace("Ø", "O"))
    return "".join(c for c in folded if c.isascii() and c.isalnum())


def _fill(rng: random.Random, pattern: str) -> str:
    """'941##' -> '94107'; 'A' stands for a capital letter."""
    return "".join(str(rng.randrange(10)) if c == "#" else rng.choice("ABCEGHJKLMNPRSTVXY") if c == "A" else c
                   for c in pattern)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
