"""Checking field and status mappings before they are saved: pure functions, no database.

Which Certain fields a mapping may name follows what the jobs read and write
(``connectors.mapping`` applies any dotted path; these are the ones that mean something):
inbound jobs write the person (``profile.*``, see ``Store`` and ``_apply_fields``), outbound
jobs send the person and their registration (``RegistrationView``).

Errors are keyed ``mappings.<row>.<column>`` (row counted from 0) or ``mappings`` for a rule
about the whole set, each with a reason that names the field.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping as MappingType

from .mapping import TRANSFORMS
from .models import DIRECTIONS, PROFILE_FIELDS, UPDATE_POLICIES

PROFILE_PATHS = tuple(f"profile.{name}" for name in PROFILE_FIELDS)
REGISTRATION_PATHS = ("registration.registration_code", "registration.status_label", "registration.attendee_type_code")
CERTAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "inbound": PROFILE_PATHS,
    "outbound": PROFILE_PATHS + REGISTRATION_PATHS,
}
EMAIL_PATH = "profile.email"
MAX_REMOTE_NAME = 200

Errors = dict[str, list[str]]


def _add(errors: Errors, key: str, reason: str) -> None:
    errors.setdefault(key, []).append(reason)


def normalise_row(row: MappingType[str, Any]) -> dict[str, Any]:
    """A mapping row with every column, text trimmed and flags as booleans."""
    text = {k: str(row.get(k) or "").strip() for k in ("direction", "certain_field", "remote_field")}
    return {**text, "transform": str(row.get("transform") or "none").strip(),
            "update_policy": str(row.get("update_policy") or "overwrite").strip(),
            "is_match_key": bool(row.get("is_match_key")), "required": bool(row.get("required"))}


def validate_mappings(rows: list[dict[str, Any]], remote_fields: MappingType[str, Any] | None,
                      application_label: str = "The application") -> Errors:
    """Every problem of a set of (normalised) mapping rows.

    ``remote_fields`` maps the target's field names to objects with a ``read_only`` attribute
    (``RemoteField``), or is None when the fields were never discovered: names are then not
    checked against the target (the page says so)."""
    errors: Errors = {}
    seen_target: dict[tuple[str, str], int] = {}
    match_keys: dict[str, int] = {}
    for i, row in enumerate(rows):
        _check_row(errors, i, row, remote_fields, application_label)
        direction = row["direction"]
        if direction not in DIRECTIONS:
            continue
        # inbound: one value per Certain field; outbound: one value per remote field
        target = row["certain_field"] if direction == "inbound" else row["remote_field"]
        column = "certain_field" if direction == "inbound" else "remote_field"
        if target and (direction, target) in seen_target:
            _add(errors, f"mappings.{i}.{column}",
                 f"{target} is already {'filled' if direction == 'inbound' else 'sent'} by row "
                 f"{seen_target[(direction, target)] + 1} ({direction}).")
        elif target:
            seen_target[(direction, target)] = i
        if row["is_match_key"]:
            if direction in match_keys:
                _add(errors, f"mappings.{i}.is_match_key",
                     f"Only one match key per direction: row {match_keys[direction] + 1} is already the "
                     f"{direction} match key.")
            else:
                match_keys[direction] = i
    for direction in DIRECTIONS:
        used = [r for r in rows if r["direction"] == direction]
        if used and not any(r["certain_field"] == EMAIL_PATH for r in used):
            _add(errors, "mappings", f"The {direction} mappings need one for {EMAIL_PATH}: people are matched "
                                     f"by e-mail, and a record without one is skipped.")
    return errors


def _check_row(errors: Errors, i: int, row: dict[str, Any], remote_fields: MappingType[str, Any] | None,
               application_label: str) -> None:
    key = f"mappings.{i}."
    direction = row["direction"]
    if direction not in DIRECTIONS:
        _add(errors, key + "direction", "Direction must be inbound or outbound.")
    certain = row["certain_field"]
    if not certain:
        _add(errors, key + "certain_field", "Choose the Certain field.")
    elif certain not in CERTAIN_FIELDS["outbound"]:
        _add(errors, key + "certain_field", f"Unknown Certain field {certain}.")
    elif direction == "inbound" and certain not in CERTAIN_FIELDS["inbound"]:
        _add(errors, key + "certain_field", f"{certain} is only sent, never written by inbound jobs.")
    remote = row["remote_field"]
    if not remote:
        _add(errors, key + "remote_field", "Enter the remote field.")
    elif len(remote) > MAX_REMOTE_NAME:
        _add(errors, key + "remote_field", f"Remote field: at most {MAX_REMOTE_NAME} characters.")
    elif remote_fields is not None:
        found = remote_fields.get(remote)
        if found is None:
            _add(errors, key + "remote_field", f"{application_label} has no field {remote!r}.")
        elif direction == "outbound" and getattr(found, "read_only", False):
            _add(errors, key + "remote_field", f"{remote} is read-only in {application_label}: it cannot be sent.")
    if row["transform"] not in TRANSFORMS:
        _add(errors, key + "transform", f"Transform must be one of {', '.join(TRANSFORMS)}.")
    if row["update_policy"] not in UPDATE_POLICIES:
        _add(errors, key + "update_policy", f"Update policy must be one of {', '.join(UPDATE_POLICIES)}.")


def normalise_status_row(row: MappingType[str, Any]) -> dict[str, Any]:
    event = row.get("event_id")
    return {"direction": str(row.get("direction") or "").strip(),
            "certain_status": str(row.get("certain_status") or "").strip(),
            "remote_status": str(row.get("remote_status") or "").strip(),
            "event_id": int(event) if str(event or "").strip().isdigit() else None}


def validate_status_mappings(rows: list[dict[str, Any]], statuses: Iterable[str], event_ids: Iterable[int]) -> Errors:
    """Outbound: a Certain status maps to one remote status; inbound: a remote status to one
    Certain status (per event, or for all events)."""
    errors: Errors = {}
    known, events = set(statuses), set(event_ids)
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows):
        key = f"status_mappings.{i}."
        direction = row["direction"]
        if direction not in DIRECTIONS:
            _add(errors, key + "direction", "Direction must be inbound or outbound.")
        if not row["certain_status"]:
            _add(errors, key + "certain_status", "Choose the Certain status.")
        elif row["certain_status"] not in known:
            _add(errors, key + "certain_status", f"No event of this account has the status {row['certain_status']!r}.")
        if not row["remote_status"]:
            _add(errors, key + "remote_status", "Enter the remote status or activity type.")
        elif len(row["remote_status"]) > MAX_REMOTE_NAME:
            _add(errors, key + "remote_status", f"Remote status: at most {MAX_REMOTE_NAME} characters.")
        if row["event_id"] is not None and row["event_id"] not in events:
            _add(errors, key + "event_id", "Not an event of this account.")
        source = "certain_status" if direction == "outbound" else "remote_status"
        ident = (direction, row["event_id"], row[source])
        if row[source] and direction in DIRECTIONS:
            if ident in seen:
                _add(errors, key + source, f"{row[source]} is already mapped by row {seen[ident] + 1} ({direction}).")
            else:
                seen[ident] = i
    return errors
