"""Eloqua Markup Language statements (spec §3.2, §3.4): ``{{Contact.Field(C_EmailAddress)}}``,
``{{Contact.Id}}``, ``{{CustomObject[9].Field[41]}}``, ``{{Activity.Asset.Name}}`` … — parsed,
checked against the entity a definition is about, and read from a record for exports and
filters. Timestamps come out as ``YYYY-MM-DD hh:mm:ss.fff`` in UTC, or in the instance's
time zone (US Eastern standard time) when the definition does not ask for UTC."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

INSTANCE_TZ = timezone(timedelta(hours=-5))  # Eloqua's default instance time zone (EST)
CONTACTS, CUSTOM_OBJECTS, ACTIVITIES = "contacts", "customObjects", "activities"

_CONTACT = re.compile(r"\{\{Contact\.(?:Field\((?P<field>[^)]+)\)|(?P<attr>Id|CreatedAt|UpdatedAt|Email\.IsSubscribed"
                      r"|Email\.IsBounced))\}\}", re.IGNORECASE)
_CDO = re.compile(r"\{\{CustomObject\[(?P<parent>\d+)\]\.(?:Field\[(?P<field>\d+)\]|Contact\.Field\((?P<cfield>[^)]+)\)"
                  r"|(?P<attr>Id|ExternalId|CreatedAt|UpdatedAt|Contact\.Id))\}\}", re.IGNORECASE)
_ACTIVITY = re.compile(r"\{\{Activity\.(?:Contact\.Field\((?P<cfield>[^)]+)\)|(?P<attr>Id|Type|CreatedAt|Contact\.Id"
                       r"|Asset\.Type|Asset\.Name|Asset\.Id|Campaign\.Id))\}\}", re.IGNORECASE)
DATE_ATTRS = {"createdat", "updatedat"}


@dataclass(frozen=True)
class Statement:
    entity: str           # contacts | customObjects | activities
    attr: str             # lower-case attribute ("field", "id", "createdat", "contact.id", "asset.name" …)
    arg: str | None = None  # contact field internal name, or custom object field id
    parent: int | None = None
    text: str = ""

    @property
    def is_date(self) -> bool:
        return self.attr in DATE_ATTRS


class BadStatement(ValueError):
    pass


def parse(text: str, entity: str, parent: int | None, sandbox: "EloquaSandbox") -> Statement:
    """The statement, if it is valid for a definition about ``entity`` (custom object ``parent``)."""
    text = (text or "").strip()
    if entity == CONTACTS and (found := _CONTACT.fullmatch(text)):
        if found["field"]:
            return Statement(CONTACTS, "field", _contact_field(found["field"], sandbox), text=text)
        return Statement(CONTACTS, found["attr"].lower(), text=text)
    if entity == CUSTOM_OBJECTS and (found := _CDO.fullmatch(text)):
        if int(found["parent"]) != parent:
            raise BadStatement(f"{text} is not about custom object {parent}")
        if found["field"]:
            cdo = sandbox.custom_objects.objects[parent]
            if cdo.field(found["field"]) is None or not found["field"].isdigit():
                raise BadStatement(f"{text}: no such field")
            return Statement(CUSTOM_OBJECTS, "field", found["field"], parent, text)
        if found["cfield"]:
            return Statement(CUSTOM_OBJECTS, "contact.field", _contact_field(found["cfield"], sandbox), parent, text)
        return Statement(CUSTOM_OBJECTS, found["attr"].lower(), parent=parent, text=text)
    if entity == ACTIVITIES and (found := _ACTIVITY.fullmatch(text)):
        if found["cfield"]:
            return Statement(ACTIVITIES, "contact.field", _contact_field(found["cfield"], sandbox), text=text)
        return Statement(ACTIVITIES, found["attr"].lower(), text=text)
    raise BadStatement(f"{text} is not a valid statement here")


def _contact_field(name: str, sandbox: "EloquaSandbox") -> str:
    found = next((f for f in sandbox.contacts.fields.values() if f.internal_name.lower() == name.lower()), None)
    if found is None:
        raise BadStatement(f"no contact field {name}")
    return found.internal_name


def stamp(moment: float | int | None, utc: bool = True) -> str:
    if moment in (None, ""):
        return ""
    zone = timezone.utc if utc else INSTANCE_TZ
    return datetime.fromtimestamp(float(moment), zone).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def parse_stamp(text: str, utc: bool = True) -> float | None:
    """'YYYY-MM-DD hh:mm:ss' (optionally with .fff), as filters write dates; None if not a date."""
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=timezone.utc if utc else INSTANCE_TZ).timestamp()
    return None


def read(statement: Statement, record: Any, sandbox: "EloquaSandbox", utc: bool = True) -> str:
    """The value of ``statement`` for a contact, custom object record or activity."""
    attr = statement.attr
    if statement.entity == CONTACTS:
        if attr == "field":
            return record.get(statement.arg)
        return {"id": str(record.id), "createdat": stamp(record.created_at, utc),
                "updatedat": stamp(record.updated_at, utc), "email.issubscribed": str(record.is_subscribed).lower(),
                "email.isbounced": str(record.is_bounceback).lower()}[attr]
    if statement.entity == CUSTOM_OBJECTS:
        if attr == "field":
            return record.values.get(int(statement.arg), "")
        if attr == "contact.field":
            contact = sandbox.contacts.contacts.get(record.contact_id or 0)
            return contact.get(statement.arg) if contact else ""
        return {"id": str(record.id), "externalid": record.unique_code, "createdat": stamp(record.created_at, utc),
                "updatedat": stamp(record.updated_at, utc), "contact.id": str(record.contact_id or "")}[attr]
    if attr == "contact.field":
        contact = sandbox.contacts.contacts.get(record.contact_id)
        return contact.get(statement.arg) if contact else ""
    return {"id": str(record.id), "type": record.activity_type, "createdat": stamp(record.activity_date, utc),
            "contact.id": str(record.contact_id), "asset.type": record.asset_type, "asset.name": record.asset_name,
            "asset.id": str(_asset_id(record, sandbox)), "campaign.id": str(record.campaign_id or "")}[attr]


def _asset_id(activity: Any, sandbox: "EloquaSandbox") -> int | str:
    kind = sandbox.activities.asset_type(activity.asset_type)
    asset = sandbox.activities.asset(kind.id, activity.asset_name) if kind else None
    return asset.id if asset else ""


def raw_value(statement: Statement, record: Any) -> float | None:
    """The epoch behind a date statement, for filters (compared as numbers, not text)."""
    if statement.attr == "createdat":
        return float(getattr(record, "activity_date", None) or record.created_at)
    if statement.attr == "updatedat":
        return float(record.updated_at)
    return None
