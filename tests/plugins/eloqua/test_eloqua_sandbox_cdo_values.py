"""The sandbox checks custom object values against their field's data type, as Eloqua does: a
number that is not one, or a date it cannot read, rejects the record (ELQ-00040) and names the
field; the engagement job's values (counts, ``YYYY-MM-DD hh:mm:ss`` dates) are taken."""
from __future__ import annotations

from connectors_eloqua.sandbox import ENGAGEMENT_OBJECT

EMAIL = "{{Contact.Field(C_EmailAddress)}}"


def test_numeric_and_date_fields_take_only_numbers_and_dates(client, sandbox):
    cdo = sandbox.find_custom_object(ENGAGEMENT_OBJECT)
    fields = {f["internalName"]: f["statement"] for f in client.custom_object_fields(cdo)}
    definition = {"name": "typed values", "identifierFieldName": "Key", "mapDataCards": True,
                  "mapDataCardsEntityType": "Contact", "mapDataCardsSourceField": "Email",
                  "mapDataCardsEntityField": EMAIL,
                  "fields": {"Key": fields["EngagementKey"], "Email": fields["EmailAddress"],
                             "Score": fields["EngagementScore"], "When": fields["LastUpdated"],
                             "Status": fields["RegistrationStatus"]}}
    rows = [{"Key": "S26:1", "Email": "a@example.com", "Score": 12, "When": "2026-06-09 07:30:00", "Status": "Attended"},
            {"Key": "S26:2", "Email": "b@example.com", "Score": "twelve", "When": "1781000000", "Status": "New"},
            {"Key": "S26:3", "Email": "c@example.com", "Score": "3.5", "When": "09/06/2026", "Status": "New"},
            {"Key": "S26:4", "Email": "d@example.com", "Score": "", "When": "", "Status": "Cancelled"}]
    result = client.run_import(f"customObjects/{cdo}/imports", definition, rows)
    assert result.status == "warning"
    assert [(r.row, r.code, r.invalid_fields) for r in result.rejects] == [(1, "ELQ-00040", ("Score",)),
                                                                          (2, "ELQ-00040", ("When",))]
    stored = {r["unique_code"]: r for r in sandbox.custom_object_records(cdo)}
    assert set(stored) == {"S26:1", "S26:4"}
    assert (stored["S26:1"]["EngagementScore"], stored["S26:1"]["LastUpdated"]) == ("12", "2026-06-09 07:30:00")
