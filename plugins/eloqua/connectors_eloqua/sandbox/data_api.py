"""The sandbox's Python API for data: what tests and the demo put in and read back, under the
sandbox lock (the HTTP handlers hold it too). Contacts are given and returned by field
internal name (``C_EmailAddress`` …) plus ``id``."""
from __future__ import annotations

import threading
from typing import Any, Iterable

from .activities import ActivityStore
from .contacts import ContactStore
from .customobjects import CustomObjectStore
from .identity import Identity, User
from .lists import ListStore
from .segments import SegmentStore


class DataApi:
    lock: threading.RLock
    identity: Identity
    contacts: ContactStore
    lists: ListStore
    segments: SegmentStore
    custom_objects: CustomObjectStore
    activities: ActivityStore
    client_id: str

    # -- contacts ------------------------------------------------------------------------------------
    def add_contact(self, **values: Any) -> dict[str, Any]:
        """A contact from internal names (``C_EmailAddress="a@b.com"``); ``created_at`` /
        ``updated_at`` (Unix seconds) may be given too. The email must be new."""
        with self.lock:
            created, updated = values.pop("created_at", None), values.pop("updated_at", None)
            email = str(values.get("C_EmailAddress") or "")
            if not email or self.contacts.email_taken(email):
                raise ValueError(f"a contact needs a new email address, not {email!r}")
            return self._contact(self.contacts.create(values, created_at=created, updated_at=updated))

    def add_contacts(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.add_contact(**record) for record in records]

    def contact(self, contact_id: int) -> dict[str, Any] | None:
        with self.lock:
            found = self.contacts.contacts.get(int(contact_id))
            return self._contact(found) if found else None

    def find_contact(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.contacts.by_email(email)
            return self._contact(found) if found else None

    def all_contacts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._contact(c) for c in sorted(self.contacts.all(), key=lambda c: c.id)]

    @staticmethod
    def _contact(contact) -> dict[str, Any]:
        return {"id": contact.id, **contact.values, "created_at": contact.created_at,
                "updated_at": contact.updated_at, "is_subscribed": contact.is_subscribed}

    def add_contact_field(self, name: str, internal_name: str, data_type: str = "text") -> int:
        with self.lock:
            return self.contacts.add_field(name, internal_name, data_type).id

    # -- lists -------------------------------------------------------------------------------------------
    def add_list(self, name: str, contact_ids: Iterable[int] = (), description: str = "") -> int:
        with self.lock:
            return self.lists.create(name, contact_ids, description=description).id

    def find_list(self, name: str) -> int | None:
        with self.lock:
            found = self.lists.by_name(name)
            return found.id if found else None

    def list_members(self, list_id: int) -> list[int]:
        with self.lock:
            return sorted(self.lists.lists[int(list_id)].members)

    def add_segment(self, name: str, contact_ids: Iterable[int] = ()) -> int:
        """A contact segment whose current members are ``contact_ids`` (exports see them)."""
        with self.lock:
            return self.segments.create(name, contact_ids).id

    # -- custom objects --------------------------------------------------------------------------------
    def add_custom_object(self, name: str, fields: Iterable[tuple[str, str, str] | tuple[str, str]], *,
                          unique: str | None = None, email: str | None = None, display_name: str | None = None,
                          description: str = "") -> int:
        """``fields`` are (name, internal name[, data type]); ``unique``/``email``/``display_name``
        name an internal name."""
        with self.lock:
            spec = [(f[0], f[1], f[2] if len(f) > 2 else "text") for f in fields]
            return self.custom_objects.create(name, spec, unique=unique, email=email, display_name=display_name,
                                              description=description).id

    def find_custom_object(self, name: str) -> int | None:
        with self.lock:
            found = self.custom_objects.by_name(name)
            return found.id if found else None

    def custom_object_records(self, cdo_id: int) -> list[dict[str, Any]]:
        """Records by field internal name, plus ``id``, ``contact_id`` and ``unique_code``."""
        with self.lock:
            cdo = self.custom_objects.objects[int(cdo_id)]
            return [{"id": r.id, "contact_id": r.contact_id, "unique_code": r.unique_code,
                     **{f.internal_name: r.values[f.id] for f in cdo.fields if f.id in r.values}}
                    for r in sorted(cdo.records.values(), key=lambda r: r.id)]

    # -- activities, assets, campaigns ---------------------------------------------------------------------
    def add_asset_type(self, name: str, activity_types: Iterable[str]) -> int:
        with self.lock:
            return self.activities.add_asset_type(name, list(activity_types)).id

    def add_campaign(self, name: str, campaign_id: int | None = None, status: str = "Active") -> int:
        with self.lock:
            return self.activities.add_campaign(name, campaign_id, status).id

    def all_activities(self) -> list[dict[str, Any]]:
        with self.lock:
            return [a.rest() for a in sorted(self.activities.activities.values(), key=lambda a: a.id)]

    # -- users and OAuth apps ------------------------------------------------------------------------------
    def add_user(self, username: str, password: str, **details: Any) -> User:
        return self.identity.add_user(username, password, **details)

    def add_oauth_app(self, client_id: str, client_secret: str, redirect_uri: str = "https://localhost/callback") -> None:
        self.identity.add_app(client_id, client_secret, redirect_uri)

    def issue_tokens(self, username: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        """A token response as if the user had just authorised the app (no HTTP call)."""
        user = self.identity.user(username) if username else next(iter(self.identity.users.values()))
        return self.identity.issue(user, client_id or self.client_id)
