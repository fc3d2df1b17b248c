"""REST contacts (spec §2.2, §2.3). Bodies are Eloqua's REST shape: standard properties at the
top (``emailAddress``, ``firstName`` …), custom fields in ``fieldValues`` by field id.

A create is never sent twice blindly: when it fails in a way that leaves open whether Eloqua
made the contact (timeout, reset, 5xx), the client looks the email up first and only sends
the create again if nobody has it.
"""
from __future__ import annotations

from typing import Any, Iterator

from .creates import create_checked
from .errors import EloquaConflict
from .rest import MAX_COUNT, pages, term


class ContactsApi:
    def contacts(self, search: str | None = None, *, depth: str = "minimal", count: int = MAX_COUNT,
                 order_by: str | None = None, last_updated_at: int | None = None) -> Iterator[dict[str, Any]]:
        """Contacts matching ``search`` (e.g. ``C_Country='France'``), all pages."""
        params: dict[str, Any] = {"depth": depth}
        for key, value in (("search", search), ("orderBy", order_by), ("lastUpdatedAt", last_updated_at)):
            if value is not None:
                params[key] = value
        return pages(lambda p: self.rest("GET", "data/contacts", params=p), params, count)

    def find_contacts_by_email(self, email: str, depth: str = "complete") -> list[dict[str, Any]]:
        return list(self.contacts(term("emailAddress", email.strip()), depth=depth, count=10))

    def get_contact(self, contact_id: int | str, depth: str = "complete") -> dict[str, Any]:
        return self.rest("GET", f"data/contact/{int(contact_id)}", params={"depth": depth})

    def create_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        """The new contact. If the answer was lost, the contact found by its email (the create
        happened), or a second create (it did not). 409 (``EloquaConflict``) if the email was taken."""
        email = str(contact.get("emailAddress") or "").strip()
        return create_checked(
            self, lambda: self.rest("POST", "data/contact", json=contact, idempotent=False),
            lambda: (self.find_contacts_by_email(email) or [None])[0] if email else None)

    def update_contact(self, contact_id: int | str, contact: dict[str, Any]) -> dict[str, Any]:
        """PUT replaces: send every property to keep (Eloqua blanks omitted standard ones)."""
        return self.rest("PUT", f"data/contact/{int(contact_id)}", json={**contact, "id": str(contact_id)})

    def upsert_contact(self, contact: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """(contact, created): update the contact with this email, else create it."""
        email = str(contact.get("emailAddress") or "").strip()
        found = self.find_contacts_by_email(email) if email else []
        if found:
            merged = {k: v for k, v in found[0].items() if k not in ("type", "depth", "fieldValues")}
            merged.update(contact)
            return self.update_contact(found[0]["id"], merged), False
        try:
            return self.create_contact(contact), True
        except EloquaConflict:  # created by someone else between our search and our create
            found = self.find_contacts_by_email(email)
            if not found:
                raise
            return self.update_contact(found[0]["id"], {**found[0], **contact}), False

    def contact_memberships(self, contact_id: int | str) -> list[dict[str, Any]]:
        return self.rest("GET", f"data/contact/{int(contact_id)}/membership") or []

    def contact_fields(self, depth: str = "complete") -> list[dict[str, Any]]:
        """Contact fields as REST lists them (``internalName``, ``dataType``, ``isReadOnly`` …)."""
        return list(pages(lambda p: self.rest("GET", "assets/contact/fields", params=p), {"depth": depth}))
