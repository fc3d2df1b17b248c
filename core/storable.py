"""Text no database can store: one rule for every reader of outside input (ingestion, the bus's
messages, the admin and the API).

PostgreSQL refuses the NUL character in text, and a lone surrogate (``"\\ud800"`` is valid JSON)
cannot be encoded for either database. Reaching a statement, either fails it, and with it the
whole transaction (a batch of valid events too); refused where it is read, it is a reason
naming the field.
"""
from __future__ import annotations

from marshmallow import ValidationError

NUL_REASON = "must not contain a NUL character (\\u0000)"
SURROGATE_REASON = "must be valid Unicode (no lone surrogate)"


def unstorable(value: str) -> str | None:
    """Why no database can take ``value``, even to compare with; None when it can."""
    if "\x00" in value:
        return NUL_REASON
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_REASON
    return None


def storable(value: str) -> bool:
    """A marshmallow validator: ``ValidationError`` with the reason for text no database can store."""
    reason = unstorable(value)
    if reason:
        raise ValidationError(reason)
    return True
