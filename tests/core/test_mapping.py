from connectors.mapping import Mapping, Mappings


def mappings():
    return Mappings([
        Mapping("inbound", "profile.email", "email", transform="lowercase", is_match_key=True, required=True),
        Mapping("inbound", "profile.first_name", "firstName", transform="trim"),
        Mapping("inbound", "registration.status_label", "status"),
        Mapping("outbound", "profile.email", "Email", update_policy="only_if_blank"),
    ])


def test_inbound_apply_converts_and_prefix_selects_one_object():
    m = mappings()
    record = {"email": " Ann@Example.COM ", "firstName": " Ann ", "status": "New", "other": 1}
    assert m.apply("inbound", record) == {"profile.email": "ann@example.com", "profile.first_name": "Ann",
                                          "registration.status_label": "New"}
    assert m.apply("inbound", record, prefix="profile") == {"email": "ann@example.com", "first_name": "Ann"}


def test_empty_strings_become_none_and_required_are_reported():
    m = mappings()
    mapped = m.apply("inbound", {"email": "", "firstName": "Bo"})
    assert mapped["profile.email"] is None
    assert m.missing_required("inbound", mapped) == ["profile.email"]


def test_outbound_direction_and_policies():
    m = mappings()
    assert m.apply("outbound", {"profile.email": "a@b.c"}) == {"Email": "a@b.c"}
    assert m.policies("outbound") == {"profile.email": "only_if_blank"}
    assert m.match_key("inbound").remote_field == "email"
    assert m.remote_fields("inbound") == ["email", "firstName", "status"]
