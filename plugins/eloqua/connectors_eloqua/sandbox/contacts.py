"""Contacts and their fields (spec §2.2, §2.3): one store shared by REST and Bulk.

A contact is kept by field internal name (``C_EmailAddress`` …); REST shows the standard fields
as top-level properties (``emailAddress``, ``accountName`` …) and the others in ``fieldValues``
keyed by field id. Emails are unique per instance and compared without case, as in Eloqua.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

EMAIL = re.compile(r"^[^@\s\"<>,;]+@[^@\s\"<>,;]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class ContactField:
    id: int
    name: str              # display name
    internal_name: str     # what mappings and Bulk statements use
    data_type: str = "text"  # REST: text | date | numeric | largeText
    rest_name: str | None = None  # top-level REST property of a standard field
    read_only: bool = False
    unique: bool = False

    @property
    def bulk_type(self) -> str:
        if self.internal_name == "C_EmailAddress":
            return "emailAddress"
        return {"text": "string", "numeric": "number"}.get(self.data_type, self.data_type)

    @property
    def statement(self) -> str:
        return "{{Contact.Field(%s)}}" % self.internal_name

    def rest(self, depth: str = "complete") -> dict[str, Any]:
        record: dict[str, Any] = {"type": "ContactField", "id": str(self.id), "name": self.name, "depth": depth,
                                  "internalName": self.internal_name}
        if depth != "minimal":
            record.update(dataType=self.data_type, displayType="text", isReadOnly=str(self.read_only).lower(),
                          isRequired=str(self.internal_name == "C_EmailAddress").lower(),
                          updateType="always" if not self.read_only else "never")
        return record

    def bulk(self) -> dict[str, Any]:
        return {"name": self.name, "internalName": self.internal_name, "dataType": self.bulk_type,
                "hasReadOnlyConstraint": self.read_only, "hasNotNullConstraint": False,
                "hasUniquenessConstraint": self.unique, "statement": self.statement,
                "uri": f"/contacts/fields/{self.id}"}


STANDARD_FIELDS = (
    ContactField(100001, "Email Address", "C_EmailAddress", rest_name="emailAddress", unique=True),
    ContactField(100002, "First Name", "C_FirstName", rest_name="firstName"),
    ContactField(100003, "Last Name", "C_LastName", rest_name="lastName"),
    ContactField(100004, "Company", "C_Company", rest_name="accountName"),
    ContactField(100005, "Title", "C_Title", rest_name="title"),
    ContactField(100006, "Business Phone", "C_BusPhone", rest_name="businessPhone"),
    ContactField(100007, "Mobile Phone", "C_MobilePhone", rest_name="mobilePhone"),
    ContactField(100008, "Fax", "C_Fax", rest_name="fax"),
    ContactField(100009, "Address 1", "C_Address1", rest_name="address1"),
    ContactField(100010, "Address 2", "C_Address2", rest_name="address2"),
    ContactField(100011, "Address 3", "C_Address3", rest_name="address3"),
    ContactField(100012, "City", "C_City", rest_name="city"),
    ContactField(100013, "State or Province", "C_State_Prov", rest_name="province"),
    ContactField(100014, "Zip or Postal Code", "C_Zip_Postal", rest_name="postalCode"),
    ContactField(100015, "Country", "C_Country", rest_name="country"),
    ContactField(100016, "Salesperson", "C_Salesperson", rest_name="salesPerson"),
    ContactField(100017, "Date Created", "C_DateCreated", "date", read_only=True),
    ContactField(100018, "Date Modified", "C_DateModified", "date", read_only=True),
)
CUSTOM_FIELDS = (
    ContactField(100200, "Industry", "C_Industry1"),
    ContactField(100201, "Lead Source - Most Recent", "C_Lead_Source___Most_Recent1"),
    ContactField(100202, "Certain Attendee ID", "C_Certain_Attendee_ID1"),
    ContactField(100203, "Lead Score", "C_Lead_Score1", "numeric"),
)
#: Eloqua's cap on custom contact fields (spec §2.3): past it, a new field is a 400
MAX_CUSTOM_FIELDS = 250


@dataclass
class Contact:
    id: int
    values: dict[str, str] = field(default_factory=dict)  # internal name -> value; empty ones left out
    created_at: int = 0
    updated_at: int = 0
    is_subscribed: bool = True
    is_bounceback: bool = False

    @property
    def email(self) -> str:
        return self.values.get("C_EmailAddress", "")

    def get(self, internal_name: str) -> str:
        if internal_name == "C_DateCreated":
            return str(self.created_at)
        if internal_name == "C_DateModified":
            return str(self.updated_at)
        return self.values.get(internal_name, "")


class ContactStore:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.fields: dict[str, ContactField] = {f.internal_name: f for f in (*STANDARD_FIELDS, *CUSTOM_FIELDS)}
        self.contacts: dict[int, Contact] = {}
        self._by_email: dict[str, int] = {}
        self._next_id = 1

    # -- fields ---------------------------------------------------------------------------------------
    def field_by_id(self, field_id: int | str) -> ContactField | None:
        return next((f for f in self.fields.values() if str(f.id) == str(field_id)), None)

    def field_by_rest_name(self, name: str) -> ContactField | None:
        return next((f for f in self.fields.values() if f.rest_name == name), None)

    def add_field(self, name: str, internal_name: str, data_type: str = "text") -> ContactField:
        custom = [f for f in self.fields.values() if f.rest_name is None and not f.read_only]
        if len(custom) >= MAX_CUSTOM_FIELDS:
            raise ValueError("There was a validation error")
        new = ContactField(max(f.id for f in self.fields.values()) + 1, name, internal_name, data_type)
        self.fields[internal_name] = new
        return new

    # -- contacts --------------------------------------------------------------------------------------
    def by_email(self, email: str) -> Contact | None:
        found = self._by_email.get(email.strip().lower())
        return self.contacts.get(found) if found else None

    def create(self, values: dict[str, Any], *, created_at: int | None = None, updated_at: int | None = None,
               **flags: Any) -> Contact:
        """A new contact; the caller has checked the email (present, valid, not taken)."""
        now = int(self.clock())
        contact = Contact(self._next_id, created_at=created_at or now, updated_at=updated_at or created_at or now, **flags)
        self._next_id += 1
        self._set(contact, values)
        self.contacts[contact.id] = contact
        return contact

    def update(self, contact: Contact, values: dict[str, Any], touch: bool = True) -> None:
        self._set(contact, values)
        if touch:
            contact.updated_at = max(int(self.clock()), contact.updated_at)

    def delete(self, contact: Contact) -> None:
        self._by_email.pop(contact.email.lower(), None)
        del self.contacts[contact.id]

    def _set(self, contact: Contact, values: dict[str, Any]) -> None:
        old_email = contact.email.lower()
        for name, value in values.items():
            text = "" if value is None else str(value)
            if text:
                contact.values[name] = text
            else:
                contact.values.pop(name, None)
        if contact.email.lower() != old_email:
            self._by_email.pop(old_email, None)
            if contact.email:
                self._by_email[contact.email.lower()] = contact.id

    def email_taken(self, email: str, other_than: int | None = None) -> bool:
        found = self._by_email.get(email.strip().lower())
        return found is not None and found != other_than

    # -- REST shape ---------------------------------------------------------------------------------
    def rest(self, contact: Contact, depth: str = "complete") -> dict[str, Any]:
        record: dict[str, Any] = {"type": "Contact", "id": str(contact.id), "createdAt": str(contact.created_at),
                                  "updatedAt": str(contact.updated_at), "depth": depth, "name": contact.email,
                                  "emailAddress": contact.email}
        if depth == "minimal":
            return record
        for f in self.fields.values():
            if f.rest_name and contact.values.get(f.internal_name):
                record[f.rest_name] = contact.values[f.internal_name]
        record["isSubscribed"] = str(contact.is_subscribed).lower()
        record["isBounceback"] = str(contact.is_bounceback).lower()
        custom = [f for f in self.fields.values() if f.rest_name is None and not f.read_only]
        values = [{"type": "FieldValue", "id": str(f.id), "value": contact.values[f.internal_name]}
                  for f in custom if contact.values.get(f.internal_name)]
        if depth == "complete":
            values = [{"type": "FieldValue", "id": str(f.id), **({"value": contact.values[f.internal_name]}
                                                                  if contact.values.get(f.internal_name) else {})}
                      for f in custom]
        record["fieldValues"] = values
        return record

    def search_value(self, contact: Contact, term: str) -> str | None:
        """The value a REST ``search`` term names: a REST property, an internal name or id/dates."""
        if term in ("id",):
            return str(contact.id)
        if term in ("createdAt", "updatedAt"):
            return str(contact.created_at if term == "createdAt" else contact.updated_at)
        if term == "name":
            return contact.email
        found = self.fields.get(term) or self.field_by_rest_name(term)
        if found is None:
            found = next((f for f in self.fields.values() if f.internal_name.lower() == term.lower()), None)
        return contact.get(found.internal_name) if found else None

    def all(self) -> Iterable[Contact]:
        return list(self.contacts.values())


def valid_email(value: str) -> bool:
    return bool(EMAIL.match(value or ""))
