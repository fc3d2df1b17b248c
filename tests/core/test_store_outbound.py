"""What outbound and metrics jobs read from the store: filtered, resumable batches and figures."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.db import transaction
from connectors.demo_agenda import seed_programme
from connectors.models import (
    Account, AgendaItem, AgendaItemRegistration, Event, Registration, Session as EventSession, SessionRegistration, Tag,
    TagPoints, utcnow,
)
from connectors.store import Store
from connectors.testing import ACCOUNT_CODE, EVENT_CODE, Harness

from . import sample_plugin


@pytest.fixture
def harness(engine, db_url, tmp_path):
    h = Harness(tmp_path, plugins={"sample": sample_plugin}, database_url=db_url)
    with transaction(h.factory) as s:
        account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
        event = s.scalar(select(Event).where(Event.event_code == EVENT_CODE))
        seed_programme(s, account, event, attendees=30)
    yield h
    h.close()


def store(s):
    account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
    return Store(s, account, s.scalar(select(Event).where(Event.event_code == EVENT_CODE)))


def test_batches_filters_and_resume_position(harness):
    with harness.factory() as s:
        st = store(s)
        everyone = [v for batch in st.iter_registrations(batch_size=7) for v in batch]
        assert len(everyone) == 30 and [v.position for v in everyone] == sorted(v.position for v in everyone)
        attended = [v for b in st.iter_registrations(status_labels=["Attended"]) for v in b]
        assert attended and all(v.status_label == "Attended" and v.classification == "accepted" for v in attended)
        rest = [v for b in st.iter_registrations(after=everyone[9].position) for v in b]
        assert [v.registration_code for v in rest] == [v.registration_code for v in everyone[10:]]
        assert everyone[0].profile["email"] and everyone[0].profile["pin"].startswith("P")


def test_modified_since_sees_session_changes(harness):
    mark = utcnow() + timedelta(seconds=1)
    with transaction(harness.factory) as s:
        sreg = s.scalar(select(SessionRegistration).order_by(SessionRegistration.id).limit(1))
        sreg.status, sreg.date_modified = "Cancelled", mark + timedelta(seconds=1)
        code = s.get(Registration, sreg.registration_id).registration_code
    with harness.factory() as s:
        changed = [v.registration_code for b in store(s).iter_registrations(modified_since=mark) for v in b]
    assert changed == [code]


def test_link_external_ids_refuses_an_id_of_another_profile(harness):
    with transaction(harness.factory) as s:
        st = store(s)
        a, b = [v for v in next(st.iter_registrations(batch_size=2))]
        res = st.link_external_ids([{"key": "a", "registration_code": a.registration_code, "external_ids": {"marketo_lead_id": 7}},
                                    {"key": "b", "registration_code": b.registration_code, "external_ids": {"marketo_lead_id": 7}},
                                    {"key": "x", "registration_code": "NOPE", "external_ids": {"marketo_lead_id": 8}}])
        assert [(r.outcome, r.code) for r in res] == [("updated", None), ("failed", "external_id_taken"), ("failed", "not_found")]
        again = st.link_external_ids([{"key": "a", "registration_code": a.registration_code, "external_ids": {"marketo_lead_id": 7}}])
        assert again[0].outcome == "unchanged"
        moved = st.link_external_ids([{"key": "a", "registration_code": a.registration_code, "external_ids": {"marketo_lead_id": 9}}])
        assert moved[0].outcome == "updated"
    with harness.factory() as s:
        first = next(store(s).iter_registrations(batch_size=1))[0]
        assert first.external_ids == {"marketo_lead_id": "9"}


def test_engagement_and_interest_figures(harness):
    with transaction(harness.factory) as s:
        st = store(s)
        reg = next(st.iter_registrations(batch_size=1))[0]
        rid = reg.position
        s.query(SessionRegistration).filter_by(registration_id=rid).delete()
        s.query(AgendaItemRegistration).filter_by(registration_id=rid).delete()
        sessions = {x.session_code: x for x in s.scalars(select(EventSession))}
        items = {x.code: x for x in s.scalars(select(AgendaItem))}
        s.add_all([SessionRegistration(registration_id=rid, session_id=sessions["S102"].id, status="Attended"),
                   SessionRegistration(registration_id=rid, session_id=sessions["S103"].id, status="Registered"),
                   SessionRegistration(registration_id=rid, session_id=sessions["S104"].id, status="Cancelled"),
                   AgendaItemRegistration(registration_id=rid, agenda_item_id=items["W2"].id, status="Registered")])
        s.flush()
        figures = st.engagement([rid])[rid]
        assert (figures.sessions_registered, figures.sessions_attended, figures.agenda_items_registered) == (2, 1, 1)
        assert figures.sessions["Cancelled"] == 1
        # Security: S102 10 + W2 10; AI: S103 10; Cloud: S103 3 + W2 10 (S104 is cancelled: no points)
        assert st.interest([rid])[rid] == {"Security": 20, "AI": 10, "Cloud": 13}
        assert st.interest([rid], session_statuses=("Attended",), agenda_statuses=())[rid] == {"Security": 10}
        assert st.tag_names() == ["AI", "Cloud", "Leadership", "Partners", "Security"]
        assert s.scalar(select(TagPoints.points).join(Tag).where(Tag.name == "Partners", TagPoints.agenda_item_id.is_not(None))) == 5
