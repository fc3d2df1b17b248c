"""What an import or sync-action sync does when it runs (spec §7.3 "Import semantics").

Contacts: match on the identifier (emails without case), create or update per ``updateRule``;
an identifier twice in one sync -> ELQ-00026, an invalid email -> ELQ-00002, an empty
identifier -> ELQ-00061; sync actions apply to the accepted rows (ELQ-00119 / ELQ-00118).
Custom objects: the same on the unique field, values checked against their field's data type
(numeric, date: ELQ-00040), then ``mapDataCards`` links records to contacts (unmatched stay
unmapped, ELQ-00034). Activities: types, campaign and contact are checked (ELQ-
00070/72/55/132/85), never updated. Each reject keeps its 1-based ``recordIndex``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from . import statements as st
from .bulk_defs import SYNC_ACTIONS, list_id
from .contacts import Contact, valid_email

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox
    from .bulk_sync import Sync


class Run:
    """One sync's bookkeeping: rejects, counts and logs."""

    def __init__(self, sandbox: "EloquaSandbox", sync: "Sync", now: float):
        self.sandbox, self.sync, self.now = sandbox, sync, now
        self.definition = sync.definition
        self.counts: dict[str, int] = {}

    def reject(self, index: int, row: dict[str, Any], code: str, message: str, fields: list[str] | tuple = ()) -> None:
        self.sync.rejects.append({"fieldValues": {k: _text(v) for k, v in row.items()}, "message": message,
                                  "statusCode": code, "recordIndex": index, "invalidFields": list(fields),
                                  "syncUri": self.sync.uri})

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def log(self, code: str, message: str, count: int, severity: str = "information") -> None:
        self.sync.log(code, message, count, severity, self.now)


def process(sandbox: "EloquaSandbox", sync: "Sync", now: float) -> None:
    run = Run(sandbox, sync, now)
    definition, rows = sync.definition, sync.rows
    columns = set(definition.statements)
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    if present - columns:
        run.log("ELQ-00111", "Fields in the file but not in the definition were ignored: "
                + ", ".join(sorted(present - columns)), len(present - columns))
    if rows and columns - present:
        run.log("ELQ-00121", "Definition fields missing from the file: " + ", ".join(sorted(columns - present)),
                len(columns - present), "warning")
    if not rows:
        run.log("ELQ-00124", "There was no data to import.", 0)
    todo = []
    for index, row in enumerate(rows, start=1):
        forced = sync.script.rejects.get(index)
        if forced:
            run.reject(index, row, forced[0], forced[1], forced[2])
        else:
            todo.append((index, row))
    if definition.entity == st.CONTACTS:
        accepted = (_sync_action_rows if definition.kind == SYNC_ACTIONS else _contact_rows)(run, todo)
        _sync_actions(run, accepted)
    elif definition.entity == st.CUSTOM_OBJECTS:
        _custom_object_rows(run, todo)
    else:
        _activity_rows(run, todo)
    run.log("ELQ-00001", "Total records processed.", len(rows))
    if sync.rejects:
        run.log("ELQ-00060", "Records rejected.", len(sync.rejects), "warning")


# -- contacts ------------------------------------------------------------------------------------
def _contact_rows(run: Run, rows: list[tuple[int, dict[str, Any]]]) -> list[int]:
    contacts, body = run.sandbox.contacts, run.definition.body
    statements = run.definition.statements
    identifier = body.get("identifierFieldName")
    email_column = next((c for c, s in statements.items() if s.attr == "field" and s.arg == "C_EmailAddress"), None)
    rules = {**body, "_statements": statements}
    seen: set[str] = set()
    accepted: list[int] = []
    for index, row in rows:
        key = _text(row.get(identifier)).strip() if identifier else ""
        if identifier and not key:
            run.reject(index, row, "ELQ-00061", "Missing identifier field.", [identifier])
            continue
        if identifier and key.lower() in seen:
            run.reject(index, row, "ELQ-00026", "Duplicate identifier value in this sync.", [identifier])
            continue
        seen.add(key.lower())
        email = _text(row.get(email_column)).strip() if email_column else ""
        if email and not valid_email(email):
            run.reject(index, row, "ELQ-00002", "Invalid email address.", [email_column])
            continue
        values = {s.arg: _text(row[c]) for c, s in statements.items()
                  if c in row and s.attr == "field" and not contacts.fields[s.arg].read_only}
        matches = _match_contacts(run, statements[identifier], key) if identifier else []
        if len(matches) > 1 and not body.get("isUpdatingMultipleMatchedRecords"):
            run.reject(index, row, "ELQ-00135", "More than one contact matches the identifier.", [identifier])
            continue
        if matches:
            if email and any(contacts.email_taken(email, m.id) for m in matches):
                run.reject(index, row, "ELQ-00011", "Duplicate email address.", [email_column])
                continue
            for contact in matches:
                contacts.update(contact, _by_rule(rules, values, contact.get, lambda s: s.arg))
                accepted.append(contact.id)
            run.count("updated", len(matches))
            continue
        if identifier and statements[identifier].attr == "id":
            run.reject(index, row, "ELQ-00085", "Contact does not exist.", [identifier])
        elif not email:
            run.reject(index, row, "ELQ-00061", "Missing email address.", [email_column or "C_EmailAddress"])
        elif contacts.email_taken(email):
            run.reject(index, row, "ELQ-00011", "Duplicate email address.", [email_column])
        else:
            accepted.append(contacts.create(values).id)
            run.count("created")
    run.log("ELQ-00004", "Contacts created.", run.counts.get("created", 0))
    run.log("ELQ-00022", "Contacts updated.", run.counts.get("updated", 0))
    return accepted


def _match_contacts(run: Run, statement: st.Statement, key: str) -> list[Contact]:
    contacts = run.sandbox.contacts
    if statement.attr == "id":
        found = contacts.contacts.get(int(key)) if key.isdigit() else None
        return [found] if found else []
    if statement.arg == "C_EmailAddress":
        found = contacts.by_email(key)
        return [found] if found else []
    return [c for c in contacts.all() if c.get(statement.arg).lower() == key.lower()]


def _by_rule(body: dict[str, Any], values: dict[Any, str], existing: Callable[[Any], str],
             key_of: Callable[[st.Statement], Any]) -> dict[Any, str]:
    """The values an update writes under ``updateRule`` (and ``updateRuleByField``, by column)."""
    statements = body.get("_statements", {})
    by_field = {key_of(statements[c]): r for c, r in (body.get("updateRuleByField") or {}).items() if c in statements}
    chosen = {}
    for key, value in values.items():
        rule = by_field.get(key, "always") if body.get("updateRule") == "useFieldRule" else body.get("updateRule")
        if rule == "ifNewIsNotNull" and value == "":
            continue
        if rule == "ifExistingIsNull" and existing(key):
            continue
        chosen[key] = value
    return chosen


def _sync_action_rows(run: Run, rows: list[tuple[int, dict[str, Any]]]) -> list[int]:
    """A standalone sync action definition: rows only name contacts."""
    (column, statement), = run.definition.statements.items()
    accepted = []
    for index, row in rows:
        found = _match_contacts(run, statement, _text(row.get(column)).strip())
        if not found:
            run.reject(index, row, "ELQ-00085", "Contact does not exist.", [column])
            continue
        accepted.append(found[0].id)
    return accepted


def _sync_actions(run: Run, contact_ids: list[int]) -> None:
    lists = run.sandbox.lists
    for action in run.definition.body.get("syncActions") or []:
        target = list_id(action.get("destination", ""))
        if action["action"] == "add":
            lists.add(target, contact_ids)
            run.log("ELQ-00119", f"Contacts added to list {target}.", len(contact_ids))
        elif action["action"] == "remove":
            lists.remove(target, contact_ids)
            run.log("ELQ-00118", f"Contacts removed from list {target}.", len(contact_ids))
        else:
            for contact_id in contact_ids:
                run.sandbox.contacts.contacts[contact_id].is_subscribed = action.get("status") == "subscribed"
            run.log("ELQ-00120", "Global subscription status set.", len(contact_ids))


# -- custom objects -------------------------------------------------------------------------------
def _custom_object_rows(run: Run, rows: list[tuple[int, dict[str, Any]]]) -> None:
    sandbox, body = run.sandbox, run.definition.body
    cdo = sandbox.custom_objects.objects[run.definition.parent]
    statements = run.definition.statements
    identifier = body.get("identifierFieldName")
    key_field = int(statements[identifier].arg) if identifier and statements[identifier].attr == "field" else None
    rules = {**body, "_statements": statements}
    seen: set[str] = set()
    unmapped = 0
    for index, row in rows:
        key = _text(row.get(identifier)).strip() if identifier else ""
        if identifier and not key:
            run.reject(index, row, "ELQ-00061", "Missing identifier field.", [identifier])
            continue
        if identifier and key.lower() in seen:
            run.reject(index, row, "ELQ-00026", "Duplicate identifier value in this sync.", [identifier])
            continue
        seen.add(key.lower())
        values = {int(s.arg): _text(row[c]) for c, s in statements.items() if c in row and s.attr == "field"}
        wrong = [c for c, s in statements.items() if c in row and s.attr == "field"
                 and not _fits(cdo.field(s.arg).data_type, _text(row[c]).strip())]
        if wrong:
            run.reject(index, row, "ELQ-00040", "Invalid value for the field's data type.", wrong)
            continue
        contact_id = _data_card_contact(run, row, statements)
        if contact_id is None and body.get("mapDataCards"):
            unmapped += 1
        matches = cdo.find(key_field, key) if key_field is not None else []
        if matches:
            for record in matches[:1] if not body.get("isUpdatingMultipleMatchedRecords") else matches:
                chosen = _by_rule(rules, values, lambda f, r=record: r.values.get(f, ""),
                                  lambda s: int(s.arg) if s.attr == "field" else s.arg)
                sandbox.custom_objects.update_record(cdo, record, chosen)
                if contact_id is not None:
                    record.contact_id = contact_id
            run.count("updated")
        else:
            sandbox.custom_objects.add_record(cdo, values, contact_id)
            run.count("created")
    run.log("ELQ-00004", "Custom object records created.", run.counts.get("created", 0))
    run.log("ELQ-00022", "Custom object records updated.", run.counts.get("updated", 0))
    if unmapped:
        run.log("ELQ-00034", "Records not mapped to a contact.", unmapped, "warning")


def _fits(data_type: str, text: str) -> bool:
    """Whether a custom object field of ``data_type`` takes ``text`` (empty always fits): numbers
    for numeric fields, Unix time or ``YYYY-MM-DD[ hh:mm:ss]`` for dates."""
    if not text:
        return True
    if data_type == "numeric":
        try:
            float(text)
        except ValueError:
            return False
        return True
    if data_type == "date":
        return text.isdigit() or st.parse_stamp(text) is not None
    return True


def _data_card_contact(run: Run, row: dict[str, Any], statements: dict[str, st.Statement]) -> int | None:
    body, contacts = run.definition.body, run.sandbox.contacts
    direct = next((c for c, s in statements.items() if s.attr == "contact.id" and row.get(c)), None)
    if direct is not None and _text(row[direct]).isdigit() and int(_text(row[direct])) in contacts.contacts:
        return int(_text(row[direct]))
    if not body.get("mapDataCards"):
        return None
    source = _text(row.get(body.get("mapDataCardsSourceField"))).strip()
    if not source:
        return None
    entity = st.parse(body["mapDataCardsEntityField"], st.CONTACTS, None, run.sandbox)
    if entity.attr == "field" and entity.arg == "C_EmailAddress" and not body.get("mapDataCardsCaseSensitiveMatch"):
        found = contacts.by_email(source)
        return found.id if found else None
    same = (lambda a, b: a == b) if body.get("mapDataCardsCaseSensitiveMatch") else (lambda a, b: a.lower() == b.lower())
    return next((c.id for c in contacts.all() if same(st.read(entity, c, run.sandbox), source)), None)


# -- activities -------------------------------------------------------------------------------------
def _activity_rows(run: Run, rows: list[tuple[int, dict[str, Any]]]) -> None:
    sandbox, statements = run.sandbox, run.definition.statements
    if run.definition.body.get("identifierFieldName"):
        run.log("ELQ-00123", "Activities are never updated: the identifier field is ignored.", 0)
    by_attr = {s.attr: c for c, s in statements.items()}
    assets_created = 0
    for index, row in rows:
        value = {attr: _text(row.get(column)).strip() for attr, column in by_attr.items()}
        broken = sandbox.activities.check(value.get("contact.id"), value.get("asset.type", ""), value.get("type", ""),
                                          value.get("campaign.id") or None)
        if broken is not None:
            code, message, prop = broken
            column = by_attr.get({"contactId": "contact.id", "assetType": "asset.type", "activityType": "type",
                                  "campaignId": "campaign.id"}[prop], prop)
            run.reject(index, row, code, message, [column])
            continue
        if not value.get("asset.name"):
            run.reject(index, row, "ELQ-00061", "Missing asset name.", [by_attr.get("asset.name", "AssetName")])
            continue
        moment = _moment(value.get("createdat"), run.now)
        if moment is None:
            run.reject(index, row, "ELQ-00040", "Invalid date.", [by_attr["createdat"]])
            continue
        campaign = value.get("campaign.id")
        _, new_asset = sandbox.activities.create(int(value["contact.id"]), value["asset.type"], value["type"],
                                                 value["asset.name"], moment, int(campaign) if campaign else None,
                                                 created_by=run.sync.created_by)
        assets_created += new_asset
        run.count("created")
    run.log("ELQ-00069", "Activities created.", run.counts.get("created", 0))
    if assets_created:
        run.log("ELQ-00068", "Assets created.", assets_created)


def _moment(text: str | None, default: float) -> int | None:
    if not text:
        return int(default)
    if text.isdigit():
        return int(text)
    found = st.parse_stamp(text)
    return int(found) if found is not None else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
