"""Who holds a lookup key while Create or Update Leads streams (pure bookkeeping, no I/O)."""
from __future__ import annotations

from datetime import datetime, timezone

from connectors_marketo.jobs.lead_claims import KeyClaims, Verdict, modified_rank


def test_the_first_registration_holds_a_key_and_only_a_later_modified_one_takes_it_over():
    claims = KeyClaims()
    assert claims.claim("a@x.io", "R1", "R1 <a@x.io>", 10.0) == (Verdict.NEW, None)
    verdict, holder = claims.claim("a@x.io", "R2", "R2 <A@x.io>", 10.0)  # same time: not later
    assert verdict is Verdict.OLDER and holder.code == "R1"
    verdict, before = claims.claim("a@x.io", "R3", "R3 <a@x.io>", 11.0)
    assert verdict is Verdict.NEWER and (before.code, before.record_key, before.sent) == ("R1", "R1 <a@x.io>", False)
    verdict, holder = claims.claim("a@x.io", "R4", "R4 <a@x.io>", 10.5)
    assert verdict is Verdict.OLDER and holder.code == "R3"  # judged against the new holder
    assert claims.claim("b@x.io", "R5", "R5 <b@x.io>", 0.0)[0] is Verdict.NEW  # keys are independent


def test_what_was_sent_for_a_key_outlives_a_change_of_holder():
    claims = KeyClaims()
    claims.claim("a@x.io", "R1", "R1", 1.0)
    claims.sent("a@x.io", 501)
    verdict, before = claims.claim("a@x.io", "R2", "R2", 2.0)
    assert verdict is Verdict.NEWER and before.sent and before.lead_ids == {501}
    assert claims.linked_earlier("a@x.io", 501) and not claims.linked_earlier("a@x.io", 502)
    assert not claims.linked_earlier("nobody@x.io", 501)


def test_recalled_keys_count_as_sent_with_the_lead_ids_on_their_profiles():
    claims = KeyClaims()
    claims.recall("a@x.io", "R1", "R1", 5.0, lead_id=777)
    claims.recall("b@x.io", "R2", "R2", 5.0, lead_id=None)
    verdict, before = claims.claim("a@x.io", "R3", "R3", 6.0)
    assert verdict is Verdict.NEWER and before.sent and claims.linked_earlier("a@x.io", 777)
    assert claims.claim("b@x.io", "R4", "R4", 4.0)[0] is Verdict.OLDER


def test_unknown_modification_time_ranks_first():
    assert modified_rank(None) == 0.0
    assert modified_rank(datetime(2026, 1, 1, tzinfo=timezone.utc)) == 1_767_225_600.0
