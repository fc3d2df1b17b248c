"""Bulk 2.0 definitions (spec §3.1-§3.4, §7.3): imports, exports and sync actions, checked the
way Eloqua checks them when they are created — field caps (100 for imports, 250 for exports),
valid statements for the entity, ``identifierFieldName`` among the fields (ELQ-00112), sync
action destinations that exist, filters that parse — and answered with ``{"failures": [...]}``."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import statements as st
from .eel import BadFilter, Predicate, compile_filter
from .responses import bulk_invalid, failure, iso

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

IMPORTS, EXPORTS, SYNC_ACTIONS = "imports", "exports", "syncActions"
MAX_IMPORT_FIELDS, MAX_EXPORT_FIELDS, MAX_ACTIVITY_CONTACT_FIELDS = 100, 250, 10
UPDATE_RULES = ("always", "ifNewIsNotNull", "ifExistingIsNull", "useFieldRule")
DEFAULT_RETENTION = {IMPORTS: "P7D", SYNC_ACTIONS: "P7D", EXPORTS: "PT6H"}  # exports: 6 h since 24A
_DURATION = re.compile(r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?")
_LIST = re.compile(r"\{\{ContactList\[(\d+)\]\}\}", re.IGNORECASE)
SYSTEM = ("uri", "createdAt", "createdBy", "updatedAt", "updatedBy", "kbUsed")


@dataclass
class Definition:
    id: int
    kind: str    # imports | exports | syncActions
    entity: str  # contacts | customObjects | activities
    parent: int | None
    body: dict[str, Any]
    statements: dict[str, st.Statement]
    created_at: float
    created_by: str
    filter: Predicate | None = None
    staged: list[list[dict[str, Any]]] = field(default_factory=list)
    staged_bytes: int = 0
    deleted: bool = False

    @property
    def uri(self) -> str:
        owner = f"/customObjects/{self.parent}" if self.entity == st.CUSTOM_OBJECTS else f"/{self.entity}"
        return f"{owner}/{self.kind}/{self.id}"

    @property
    def utc(self) -> bool:
        return bool(self.body.get("areSystemTimestampsInUTC"))

    @property
    def retention_seconds(self) -> float:
        return duration(self.body.get("dataRetentionDuration") or DEFAULT_RETENTION[self.kind]) or 0.0

    def record(self) -> dict[str, Any]:
        return {**self.body, "uri": self.uri, "createdBy": self.created_by, "createdAt": iso(self.created_at),
                "updatedBy": self.created_by, "updatedAt": iso(self.created_at),
                **({"kbUsed": self.staged_bytes // 1024} if self.kind != EXPORTS else {})}


def duration(text: str) -> float | None:
    found = _DURATION.fullmatch(text or "")
    if not found or not any(found.groupdict().values()):
        return None
    parts = {k: int(v or 0) for k, v in found.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def build(sandbox: "EloquaSandbox", kind: str, entity: str, parent: int | None, data: Any, def_id: int) -> Definition:
    """A checked definition, or ``ApiError`` (400 failures)."""
    if not isinstance(data, dict):
        raise bulk_invalid(failure("body", "Must be a JSON object."))
    body = {k: v for k, v in data.items() if k not in SYSTEM}
    problems: list[dict[str, Any]] = []
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        problems.append(failure("name", "Must be a string value, at least 1 character and at most 100 characters long.",
                                name))
    statements = _statements(sandbox, kind, entity, parent, body.get("fields"), problems)
    body.setdefault("dataRetentionDuration", DEFAULT_RETENTION[kind])
    retention = duration(str(body["dataRetentionDuration"]))
    if retention is None or not 3600 <= retention <= 14 * 86400:
        problems.append(failure("dataRetentionDuration", "Must be a duration between PT1H and P14D.",
                                body["dataRetentionDuration"]))
    predicate = None
    if kind == EXPORTS:
        predicate = _export_options(sandbox, entity, parent, body, problems)
    else:
        _import_options(sandbox, kind, entity, body, statements, problems)
    if problems:
        raise bulk_invalid(*problems)
    return Definition(def_id, kind, entity, parent, body, statements, sandbox.now(), sandbox.current_username(),
                      filter=predicate)


def _statements(sandbox, kind, entity, parent, fields, problems) -> dict[str, st.Statement]:
    if not isinstance(fields, dict) or not fields:
        problems.append(failure("fields", "Must contain at least one field."))
        return {}
    cap = MAX_EXPORT_FIELDS if kind == EXPORTS else MAX_IMPORT_FIELDS
    if len(fields) > cap:
        problems.append(failure("fields", f"Must contain at most {cap} fields.", len(fields)))
    parsed = {}
    for column, text in fields.items():
        try:
            parsed[column] = st.parse(str(text), entity, parent, sandbox)
        except st.BadStatement:
            problems.append(failure(f"fields.{column}", "Must be a valid statement for this object.", text))
    if entity == st.ACTIVITIES and sum(s.attr == "contact.field" for s in parsed.values()) > MAX_ACTIVITY_CONTACT_FIELDS:
        problems.append(failure("fields", f"At most {MAX_ACTIVITY_CONTACT_FIELDS} contact fields in an activity export."))
    return parsed


def _export_options(sandbox, entity, parent, body, problems) -> Predicate | None:
    max_records = body.get("maxRecords")
    if max_records is not None and (not isinstance(max_records, int) or max_records < 1):
        problems.append(failure("maxRecords", "Must be a positive integer.", max_records))
    try:
        return compile_filter(body.get("filter"), entity, parent, sandbox, bool(body.get("areSystemTimestampsInUTC")))
    except BadFilter as exc:
        problems.append(failure("filter", str(exc), body.get("filter")))
        return None


def _import_options(sandbox, kind, entity, body, statements, problems) -> None:
    identifier = body.get("identifierFieldName")
    if identifier is not None and identifier not in (body.get("fields") or {}):
        problems.append(failure("identifierFieldName", "Must be one of the fields of the definition (ELQ-00112).",
                                identifier))
    if kind == SYNC_ACTIONS:
        ids = [s for s in statements.values() if s.attr == "id" or s.arg == "C_EmailAddress"]
        if len(statements) != 1 or not ids:
            problems.append(failure("fields", "Must contain one identifying field: {{Contact.Id}} or the email address."))
        if not body.get("syncActions"):
            problems.append(failure("syncActions", "Must contain at least one sync action."))
    body.setdefault("updateRule", "always")
    if body["updateRule"] not in UPDATE_RULES:
        problems.append(failure("updateRule", "Must be one of " + ", ".join(UPDATE_RULES) + ".", body["updateRule"]))
    body.setdefault("isSyncTriggeredOnImport", False)
    body.setdefault("isUpdatingMultipleMatchedRecords", False)
    for index, action in enumerate(body.get("syncActions") or []):
        problem = _sync_action_problem(sandbox, entity, action)
        if problem:
            problems.append(failure(f"syncActions[{index}]", problem, action))
    if body.get("mapDataCards"):
        if entity != st.CUSTOM_OBJECTS:
            problems.append(failure("mapDataCards", "Only custom object imports map data cards."))
        elif body.get("mapDataCardsSourceField") not in (body.get("fields") or {}):
            problems.append(failure("mapDataCardsSourceField", "Must be one of the fields of the definition.",
                                    body.get("mapDataCardsSourceField")))
        if (body.get("mapDataCardsEntityType") or "Contact") != "Contact":
            problems.append(failure("mapDataCardsEntityType", "The sandbox maps data cards to contacts only.",
                                    body.get("mapDataCardsEntityType")))
        try:
            st.parse(str(body.get("mapDataCardsEntityField") or ""), st.CONTACTS, None, sandbox)
        except st.BadStatement:
            problems.append(failure("mapDataCardsEntityField", "Must be a contact field statement.",
                                    body.get("mapDataCardsEntityField")))


def _sync_action_problem(sandbox, entity, action: Any) -> str | None:
    if not isinstance(action, dict):
        return "Must be an object with action and destination."
    verb, destination = action.get("action"), str(action.get("destination") or "")
    if entity == st.ACTIVITIES:
        return "Activity imports take no sync actions."
    if verb in ("add", "remove"):
        found = _LIST.fullmatch(destination)
        if found is None or int(found[1]) not in sandbox.lists.lists:
            return "Must be a reference to an existing contact list."
        return None
    if verb == "setStatus":
        if destination.lower() != "{{globalsubscribe}}" or action.get("status") not in ("subscribed", "unsubscribed"):
            return "The sandbox supports setStatus on {{GlobalSubscribe}} with subscribed or unsubscribed."
        return None
    return "Must be add, remove or setStatus."


def list_id(destination: str) -> int | None:
    found = _LIST.fullmatch(destination or "")
    return int(found[1]) if found else None
