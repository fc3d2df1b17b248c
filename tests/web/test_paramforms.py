"""Form generation from a params schema, beyond what the test plugin's form shows."""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from werkzeug.datastructures import MultiDict

from connectors import JobType
from connectors.web import jobform, paramforms

STATUSES = ["New", "Invited", "Attended"]


class WideParams(Schema):
    note = fields.String(metadata={"label": "Note", "order": 3})
    statuses = fields.List(fields.String(), required=True, metadata={"label": "Status filter", "order": 1})
    channels = fields.List(fields.String(validate=validate.OneOf(["email", "sms"])), metadata={"label": "Channels"})
    tags = fields.List(fields.String(), metadata={"label": "Tags", "description": "Tags to add"})
    pairs = fields.List(fields.String(), metadata={"label": "Pairs", "description": "One 'a = b' a line."})
    ratio = fields.Float(validate=validate.Range(min=0, max=1), metadata={"label": "Ratio"})
    since = fields.DateTime(metadata={"label": "Since"})
    program = fields.Integer(data_key="programId", metadata={"label": "Program", "order": 2})


JT = JobType(key="testapp.wide", label="Wide", application="testapp", scope="event", params_schema=WideParams,
             run=lambda ctx, p: None, event_choices={"statuses": "registration_statuses"})


def _form(app, data=None):
    form_class, params = jobform.build(JT, {"registration_statuses": STATUSES})
    with app.test_request_context(method="POST" if data else "GET", data=MultiDict(data) if data else None):
        form = form_class(formdata=MultiDict(data) if data else None)
        return form, params, {p.key: p for p in params}


def test_kinds_order_and_data_keys(app):
    form, params, by_key = _form(app)
    assert [p.key for p in params][:3] == ["statuses", "programId", "note"]  # metadata order first
    assert by_key["statuses"].kind == "multi" and by_key["channels"].kind == "multi"
    assert by_key["tags"].kind == "lines" and by_key["ratio"].kind == "number"
    assert by_key["since"].kind == "datetime" and by_key["programId"].cast is int
    html = str(form["p_statuses"])  # event statuses become checkboxes
    assert all(f'value="{s}"' in html for s in STATUSES) and 'type="checkbox"' in html
    assert 'type="datetime-local"' in str(form["p_since"])
    assert 'max="1"' in str(form["p_ratio"]) and 'step="any"' in str(form["p_ratio"])


def test_values_turn_form_input_into_params(app):
    data = [("p_statuses", "New"), ("p_statuses", "Attended"), ("p_channels", "sms"), ("p_tags", "a\n b \n\n"),
            ("p_programId", "42"), ("p_ratio", "0.5"), ("p_note", "  "), ("p_since", "")]
    form, params, _ = _form(app, data)
    assert paramforms.values(form, params) == {"statuses": ["New", "Attended"], "channels": ["sms"],
                                               "tags": ["a", "b"], "programId": 42, "ratio": 0.5}


def test_non_numbers_pass_through_for_the_core_to_reject(app):
    form, params, _ = _form(app, [("p_programId", "abc")])
    assert paramforms.values(form, params)["programId"] == "abc"


def test_errors_land_on_their_fields(app):
    form, params, _ = _form(app, [("p_programId", "abc")])
    general = jobform.place_errors(form, params, {
        "params.programId": ["Not a valid integer."], "params.statuses.0": ["Bad."],
        "schedule.mode": ["Must be one of: once, recurring."], "application": ["not enabled"],
        "params._schema": ["Give a list name or id."]})
    assert form["p_programId"].errors == ["Not a valid integer."] and form["p_statuses"].errors == ["Bad."]
    assert form["run_mode"].errors == ["Must be one of: once, recurring."]
    assert general == ["not enabled", "Give a list name or id."]


def test_describe_uses_labels_in_schema_order():
    shown = paramforms.describe(JT, {"programId": 7, "statuses": ["New"], "extra": True})
    assert shown == [("Status filter", "New"), ("Program", "7"), ("extra", "Yes")]


def test_a_lines_field_says_one_value_per_line_once(app):
    form, _, _ = _form(app)
    assert form["p_tags"].description == "Tags to add. One value per line."
    assert form["p_pairs"].description == "One 'a = b' a line."  # the plugin said it already
