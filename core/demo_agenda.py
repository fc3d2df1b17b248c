"""The demo event's programme and some attendees already registered through its forms, so the
outbound and metrics jobs have something to send (deterministic: same data on every start)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import (
    Account, AgendaItem, AgendaItemRegistration, Event, Profile, Registration, Session as EventSession,
    SessionRegistration, Tag, TagPoints,
)
from .store import new_code

TAGS = ("Security", "Cloud", "AI", "Leadership", "Partners")
SESSIONS = (  # code, title, track, tags with points
    ("S101", "Opening keynote", "Main stage", {"Leadership": 5}),
    ("S102", "Zero-trust networks in practice", "Security", {"Security": 10}),
    ("S103", "Running LLMs on your own data", "AI", {"AI": 10, "Cloud": 3}),
    ("S104", "Multi-cloud cost control", "Cloud", {"Cloud": 10}),
    ("S105", "Incident response tabletop", "Security", {"Security": 8, "Leadership": 2}),
    ("S106", "Partner programme roadmap", "Partners", {"Partners": 10}),
    ("S107", "Shipping ML to production", "AI", {"AI": 8, "Cloud": 4}),
    ("S108", "Closing panel: the next five years", "Main stage", {"Leadership": 5, "AI": 2}),
)
AGENDA_ITEMS = (  # code, name, fee, tags with points
    ("W1", "Hands-on workshop: threat modelling", Decimal("149.00"), {"Security": 15}),
    ("W2", "Hands-on workshop: Kubernetes security", Decimal("149.00"), {"Security": 10, "Cloud": 10}),
    ("D1", "Partner dinner", Decimal("0.00"), {"Partners": 5}),
)
FIRST = ("Alice", "Bruno", "Chen", "Dana", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemi", "Luca")
LAST = ("Martin", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka", "Umar", "Vogel")
COMPANIES = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware")


def seed_programme(session: Session, account: Account, event: Event, attendees: int = 60) -> None:
    """Sessions, agenda items and tags with points; ``attendees`` registrations with their choices."""
    if session.scalar(select(EventSession.id).where(EventSession.event_id == event.id).limit(1)):
        return
    start = event.start_date or datetime.now().astimezone()
    tags = {name: Tag(account_id=account.id, name=name) for name in TAGS}
    for name, tag in tags.items():
        existing = session.scalar(select(Tag).where(Tag.account_id == account.id, Tag.name == name))
        tags[name] = existing or tag
        session.add(tags[name])
    sessions, items = [], []
    for i, (code, title, track, points) in enumerate(SESSIONS):
        s = EventSession(event_id=event.id, session_code=code, title=title, track=track, type="Talk",
                         location=f"Room {1 + i % 4}", start=start + timedelta(hours=2 * i), capacity=200)
        sessions.append((s, points))
    for code, name, fee, points in AGENDA_ITEMS:
        items.append((AgendaItem(event_id=event.id, code=code, name=name, fee=fee, inventory=80), points))
    session.add_all([s for s, _ in sessions] + [a for a, _ in items])
    session.flush()
    for target, points in sessions + items:
        for tag, n in points.items():
            kind = "session_id" if isinstance(target, EventSession) else "agenda_item_id"
            session.add(TagPoints(tag_id=tags[tag].id, points=n, **{kind: target.id}))
    rng = random.Random(2026)
    for n in range(attendees):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        profile = Profile(account_id=account.id, pin=new_code("P"), first_name=first, last_name=last,
                          email=f"{first}.{last}.{n}@{company.lower()}.example".lower(), organization=company,
                          custom={}, external_ids={})
        session.add(profile)
        session.flush()
        status = rng.choice(("New", "New", "Pre-Registered", "Attended", "Attended", "No-show"))
        reg = Registration(event_id=event.id, profile_id=profile.id, registration_code=new_code("R"),
                           attendee_type_code=rng.choice(("Attendee", "Attendee", "Attendee", "Speaker", "VIP")),
                           status_label=status, source="form", external_ids={}, version=1)
        session.add(reg)
        session.flush()
        for s, _ in rng.sample(sessions, rng.randint(1, 5)):
            choice = rng.choice(("Registered", "Attended", "Attended", "No Show", "Waitlisted"))
            session.add(SessionRegistration(registration_id=reg.id, session_id=s.id, status=choice))
        for a, _ in rng.sample(items, rng.randint(0, 2)):
            session.add(AgendaItemRegistration(registration_id=reg.id, agenda_item_id=a.id,
                                               status=rng.choice(("Registered", "Registered", "Waitlisted")), fee=a.fee))
    session.flush()
