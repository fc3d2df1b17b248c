"""Random pins and registration codes: long enough, drawn per batch, and a batch whose new codes
are already taken still lands whole (the store draws new ones and tries again)."""
import random

import pytest
from sqlalchemy import func, select, text

from connectors.codes import CODE_ALPHABET, CODE_LENGTH, CodeGenerator
from connectors.db import transaction
from connectors.models import Account, Event, ExternalId, Outbox, Profile, Registration, StatusChangeEvent
from connectors.store import Store
from connectors.testing import ACCOUNT_CODE, EVENT_CODE, Harness

from . import sample_plugin


@pytest.fixture
def harness(engine, db_url, tmp_path):
    h = Harness(tmp_path, plugins={"sample": sample_plugin}, database_url=db_url)
    yield h
    h.close()


def store(s, codes=None):
    account = s.scalar(select(Account).where(Account.account_code == ACCOUNT_CODE))
    event = s.scalar(select(Event).where(Event.event_code == EVENT_CODE))
    return Store(s, account, event, codes=codes) if codes else Store(s, account, event)


def leads(n):
    return [{"key": f"k{i}", "fields": {"email": f"lead{i}@acme.test", "first_name": f"Lead {i}"},
             "external_ids": {"marketo_lead_id": str(1000 + i)}} for i in range(n)]


def register(st, results, key_prefix="r"):
    return st.upsert_registrations([{"key": f"{key_prefix}{r.key}", "profile_id": r.id, "attendee_type_code": "Attendee",
                                     "status_label": "New"} for r in results])


def test_codes_are_twelve_letters_of_the_alphabet_and_distinct():
    codes = CodeGenerator().draw("R", 5000)
    assert len(set(codes)) == 5000
    assert all(len(c) == 1 + CODE_LENGTH == 13 and c[0] == "R" and set(c[1:]) <= set(CODE_ALPHABET) for c in codes)
    one = CodeGenerator(random.Random(3).randbytes).draw("P", 2)
    assert one == CodeGenerator(random.Random(3).randbytes).draw("P", 2)  # the seam is deterministic


def test_a_batch_whose_new_codes_are_taken_still_lands_whole(harness):
    seed = 20261127
    foresee = CodeGenerator(random.Random(seed).randbytes)  # the same draws, in the order the store makes them
    pins = foresee.draw("P", 3)
    redrawn_pin = foresee.draw("P", 1)[0]  # the retry's draw for the one pin that was taken
    reg_codes = foresee.draw("R", 3)
    redrawn_code = foresee.draw("R", 1)[0]
    with transaction(harness.factory) as s:  # an older person already holds the second pin and the third code
        old = store(s).upsert_profiles([{"key": "old", "fields": {"email": "old@acme.test"}}])[0]
        s.execute(Profile.__table__.update().where(Profile.id == old.id).values(pin=pins[1]))
        old_reg = register(store(s), [old])[0]
        s.execute(Registration.__table__.update().where(Registration.id == old_reg.id).values(registration_code=reg_codes[2]))

    with transaction(harness.factory) as s:
        st = store(s, CodeGenerator(random.Random(seed).randbytes))
        created = st.upsert_profiles(leads(3))
        registered = register(st, created)
    assert [r.outcome for r in created] == [r.outcome for r in registered] == ["created"] * 3

    with harness.read_factory() as s:
        people = dict(s.execute(select(Profile.id, Profile.pin)).all())
        assert people[old.id] == pins[1]  # the older row is untouched
        assert [people[r.id] for r in created] == [pins[0], redrawn_pin, pins[2]]
        regs = dict(s.execute(select(Registration.id, Registration.registration_code)).all())
        assert regs[old_reg.id] == reg_codes[2]
        assert [regs[r.id] for r in registered] == [reg_codes[0], reg_codes[1], redrawn_code]
        assert dict(s.execute(select(Registration.id, Registration.profile_id)).all()) == {
            old_reg.id: old.id, **{reg.id: prof.id for reg, prof in zip(registered, created)}}
        links = s.execute(select(ExternalId.profile_id, ExternalId.remote_id).order_by(ExternalId.remote_id)).all()
        assert links == [(r.id, str(1000 + i)) for i, r in enumerate(created)]
        assert [s.get(Profile, r.id).external_ids for r in created] == [{"marketo_lead_id": str(1000 + i)} for i in range(3)]
        events = s.execute(select(StatusChangeEvent.registration_id, StatusChangeEvent.payload)).all()
        assert len(events) == 4 and s.scalar(select(func.count()).select_from(Outbox)) == 4  # nothing twice
        announced = {rid: (p["registration_code"], p["profile"]["pin"]) for rid, p in events}
        assert [announced[r.id] for r in registered] == [(regs[r.id], people[p.id]) for r, p in zip(registered, created)]


def test_a_collision_that_new_codes_cannot_cure_is_raised_not_retried_forever(harness):
    with transaction(harness.factory) as s:
        store(s).upsert_profiles([{"key": "old", "fields": {"email": "old@acme.test", "pin": "PTAKEN"}}])
    with pytest.raises(Exception, match="(?i)unique|duplicate"), transaction(harness.factory) as s:
        store(s).upsert_profiles([{"key": "new", "fields": {"email": "new@acme.test", "pin": "PTAKEN"}}])
    with harness.read_factory() as s:
        assert s.scalar(select(func.count()).select_from(Profile)) == 1


def test_a_batch_of_new_and_known_records_keeps_each_outcome(harness):
    with transaction(harness.factory) as s:
        first = store(s).upsert_profiles(leads(2))
    rows = leads(4)
    rows[1]["fields"]["first_name"] = "Renamed"
    rows.append({"key": "twin", "fields": {"email": "LEAD3@acme.test", "last_name": "Twin"}})  # same person, same batch
    with transaction(harness.factory) as s:
        st = store(s)
        again = st.upsert_profiles(rows)
        assert [(r.key, r.outcome) for r in again] == [("k0", "unchanged"), ("k1", "updated"), ("k2", "created"),
                                                        ("k3", "created"), ("twin", "updated")]
        assert [r.id for r in again[:2]] == [r.id for r in first] and again[4].id == again[3].id
        registered = register(st, again[:4])
        assert [r.outcome for r in registered] == ["created"] * 4
        assert [r.outcome for r in register(st, again[:1], "again-")] == ["unchanged"]
    with harness.read_factory() as s:
        twin = s.get(Profile, again[3].id)
        assert (twin.first_name, twin.last_name, twin.pin[0], len(twin.pin)) == ("Lead 3", "Twin", "P", 13)
        assert s.get(Profile, again[1].id).first_name == "Renamed"
        assert s.scalar(select(func.count()).select_from(Profile)) == 4


def test_linked_ids_are_seen_by_the_same_session_and_kept_in_step(harness):
    with transaction(harness.factory) as s:
        st = store(s)
        register(st, st.upsert_profiles([{"key": "a", "fields": {"email": "a@acme.test"}}]))
        view = next(st.iter_registrations())[0]  # the session now holds the profile
        assert view.external_ids == {}
        st.link_external_ids([{"key": "a", "registration_code": view.registration_code, "external_ids": {"marketo_lead_id": 5}}])
        assert next(st.iter_registrations())[0].external_ids == {"marketo_lead_id": "5"}
        moved = st.link_external_ids([{"key": "a", "registration_code": view.registration_code,
                                       "external_ids": {"marketo_lead_id": 6}}])
        assert moved[0].outcome == "updated" and next(st.iter_registrations())[0].external_ids == {"marketo_lead_id": "6"}
    with harness.read_factory() as s:
        assert s.execute(select(ExternalId.system, ExternalId.remote_id)).all() == [("marketo_lead_id", "6")]


def test_after_a_large_import_the_email_match_still_uses_the_email_index(harness, db_url):
    """PostgreSQL without statistics scanned the account's profiles for each batch's match; the
    store refreshes them as the tables grow (SQLite picks the index without them)."""
    with transaction(harness.factory) as s:
        st = store(s)
        for start in range(0, 3000, 1000):
            created = st.upsert_profiles([{"key": f"k{i}", "fields": {"email": f"lead{i}@acme.test"}}
                                          for i in range(start, start + 1000)])
            register(st, created)
        sql = ("SELECT id FROM profiles WHERE account_id = 1 AND lower(email) IN "
               "('lead1@acme.test', 'lead2@acme.test', 'lead3@acme.test')")
        explain = "EXPLAIN QUERY PLAN " if db_url.startswith("sqlite") else "EXPLAIN "
        plan = " ".join(str(row[-1]) for row in s.execute(text(explain + sql)))
    assert "ix_profiles_account_email_lower" in plan, plan


def test_a_duplicate_of_a_profile_created_in_the_same_batch_names_its_pin(harness):
    rows = [{"key": "a", "fields": {"email": "same@acme.test"}, "external_ids": {"marketo_lead_id": "1"}},
            {"key": "b", "fields": {"email": "same@acme.test"}, "external_ids": {"marketo_lead_id": "2"}}]
    with transaction(harness.factory) as s:
        first, second = store(s).upsert_profiles(rows)
        pin = s.get(Profile, first.id).pin
    assert (first.outcome, second.outcome, second.code) == ("created", "skipped", "duplicate")
    assert pin and second.message == f"email same@acme.test already belongs to profile {pin} (marketo_lead_id 1)"
