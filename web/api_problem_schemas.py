"""Schemas of the problems actions (``api_problems``): which problems of a run a retry or a dismiss
takes — named by record key, or by the problems view's filter — and what comes back."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validate, validates_schema

from connectors.jobs.problems import MAX_RETRY_KEYS

from .api_schemas import Answer, Int, List, Nested, RecordQuery, RunSummary, StrictSchema, Str

#: the most record keys one request names: as many as one retry takes
MAX_KEYS = MAX_RETRY_KEYS


class ProblemFilterIn(RecordQuery):
    """The problems view's filter: what ``GET /runs/{id}/records`` takes, without its paging."""

    class Meta(RecordQuery.Meta):
        exclude = ("page", "per_page")


class ProblemChoice(StrictSchema):
    keys = List(Str(validate=validate.Length(min=1, max=320)), load_default=None,
                validate=validate.Length(min=1, max=MAX_KEYS, error="send 1 to {max} keys; for more, use `filter`"),
                metadata={"description": "Record keys of this run's problems (failed or skipped, dismissed or not), "
                                         "as `record_key` in `GET /runs/{id}/records`."})
    filter = Nested(ProblemFilterIn, load_default=None,
                    metadata={"description": "Every problem the view's filter shows, as on the page's “… all” "
                                             "buttons; `{}` is every open problem."})

    @validates_schema
    def _keys_or_filter(self, data: dict[str, Any], **_: Any) -> None:
        """One way of choosing: a script that sends both meant one of them, and we cannot tell which."""
        if data.get("keys") is not None and data.get("filter") is not None:
            raise ValidationError("send `keys` or `filter`, not both", field_name="filter")
        if data.get("keys") is None and data.get("filter") is None:
            raise ValidationError('send `keys` (a list of record keys) or `filter` (`{}` for every open problem)',
                                  field_name="keys")


class RetryOut(RunSummary):
    retry_of = Int(metadata={"description": "The run whose problems it retries."})
    key_count = Int(metadata={"description": "How many record keys it processes."})
    keys = List(Str(), metadata={"description": "The record keys it processes, and only those."})


class DismissOut(Answer):
    dismissed = Int(metadata={"description": "Records dismissed now (ones dismissed before are not counted)."})
    open = Int(metadata={"description": "Open problems left in the run."})
