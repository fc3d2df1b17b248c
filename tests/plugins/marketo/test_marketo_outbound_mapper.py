"""``OutboundMapper`` reads a registration the way the outbound mapping does, field for field."""
from __future__ import annotations

from connectors import Mapping, Mappings, RegistrationView
from connectors_marketo.jobs.outbound import OutboundMapper, mapping_source


def view(**profile):
    base = {"email": " Ann@Example.com ", "first_name": "Ann", "last_name": "", "organization": "  ", "city": None}
    return RegistrationView("R1", "Attended", "Speaker", 1, {**base, **profile}, {})


def applied(mappings, v):
    """What the job sent before: apply over the source dict, empty values dropped."""
    return {k: value for k, value in mappings.apply("outbound", mapping_source(v)).items() if value not in (None, "")}


def test_payload_equals_apply_over_the_source_dict():
    mappings = Mappings([
        Mapping("outbound", "profile.email", "email", transform="lowercase"),
        Mapping("outbound", "profile.first_name", "firstName", transform="uppercase"),
        Mapping("outbound", "profile.last_name", "lastName"),                     # "" -> left out
        Mapping("outbound", "profile.organization", "company", transform="trim"),  # blank after trim -> left out
        Mapping("outbound", "profile.city", "city"),                              # None -> left out
        Mapping("outbound", "profile.no_such_field", "other"),                    # not in the profile -> left out
        Mapping("outbound", "registration.status_label", "certainStatus"),
        Mapping("outbound", "registration.attendee_type_code", "certainType", transform="lowercase"),
        Mapping("outbound", "registration.version", "certainVersion"),            # not offered -> left out
        Mapping("outbound", "session.name", "sessionName"),                       # not offered -> left out
        Mapping("inbound", "profile.phone", "phone"),                             # the other direction
    ])
    v = view()
    payload = OutboundMapper(mappings).payload(v)
    assert payload == applied(mappings, v) == {"email": "ann@example.com", "firstName": "ANN",
                                               "certainStatus": "Attended", "certainType": "speaker"}


def test_a_later_mapping_of_the_same_field_overrides_even_when_empty():
    mappings = Mappings([
        Mapping("outbound", "profile.first_name", "firstName"),
        Mapping("outbound", "profile.last_name", "firstName"),  # empty: the field is left out, as apply does
        Mapping("outbound", "profile.city", "city"),
        Mapping("outbound", "profile.first_name", "city"),
    ])
    v = view(city="Lyon")
    assert OutboundMapper(mappings).payload(v) == applied(mappings, v) == {"city": "Ann"}
