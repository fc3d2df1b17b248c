"""``Mappings.rules``: each direction resolved once, converting as ``Mapping.convert`` does."""
from __future__ import annotations

import pytest

from connectors.mapping import Mapping, Mappings


def test_rules_follow_the_direction_and_convert_like_the_mapping():
    inbound = Mapping("inbound", "profile.email", "email", transform="lowercase")
    outbound = Mapping("outbound", "profile.first_name", "firstName", transform="trim")
    m = Mappings([inbound, outbound])
    ((source, target, convert),) = m.rules("inbound")
    assert (source, target) == ("email", "profile.email")
    for value in (" A@B.C ", "", None, 7):
        assert convert(value) == inbound.convert(value)
    assert convert(" A@B.C ") == "a@b.c" and convert("") is None
    ((source, target, convert),) = m.rules("outbound")
    assert (source, target, convert("  Ann ")) == ("profile.first_name", "firstName", "Ann")
    with pytest.raises(ValueError, match="inbound or outbound"):
        m.rules("sideways")


def test_an_unknown_transform_fails_only_when_a_value_is_converted():
    m = Mappings([Mapping("inbound", "profile.city", "city", transform="reverse")])
    assert m.apply("inbound", {"city": ""}) == {"profile.city": None}
    with pytest.raises(KeyError):
        m.apply("inbound", {"city": "Lyon"})
