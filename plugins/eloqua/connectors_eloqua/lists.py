"""Shared contact lists (spec §2.4): find, create, and change membership with REST (a PUT of the
list with ``membershipAdditions`` / ``membershipDeletions`` and its current name, since a PUT
must carry every required property). Large changes belong to Bulk sync actions (``bulk.py``)."""
from __future__ import annotations

from typing import Any, Iterable

from .creates import create_checked
from .rest import pages, term

#: contact ids per membership PUT (kept well under URL/body limits)
MEMBERSHIP_BATCH = 500


class ListsApi:
    def contact_lists(self, name: str | None = None, depth: str = "partial") -> list[dict[str, Any]]:
        """Lists whose name matches ``name`` (``*`` is a wildcard), or all."""
        params: dict[str, Any] = {"depth": depth}
        if name is not None:
            params["search"] = term("name", name)
        return list(pages(lambda p: self.rest("GET", "assets/contact/lists", params=p), params))

    def find_contact_list(self, name: str) -> dict[str, Any] | None:
        """The list with exactly this name (ignoring case), or None."""
        return next((r for r in self.contact_lists(name) if r.get("name", "").lower() == name.lower()), None)

    def get_contact_list(self, list_id: int | str) -> dict[str, Any]:
        return self.rest("GET", f"assets/contact/list/{int(list_id)}", params={"depth": "complete"})

    def create_contact_list(self, name: str, description: str = "") -> dict[str, Any]:
        """A new shared list; after an ambiguous failure the list found by name, if it was made."""
        return create_checked(
            self, lambda: self.rest("POST", "assets/contact/list", json={"name": name, "description": description},
                              idempotent=False),
            lambda: self.find_contact_list(name))

    def add_to_contact_list(self, list_id: int | str, contact_ids: Iterable[int | str]) -> dict[str, Any]:
        return self._membership(list_id, contact_ids, "membershipAdditions")

    def remove_from_contact_list(self, list_id: int | str, contact_ids: Iterable[int | str]) -> dict[str, Any]:
        return self._membership(list_id, contact_ids, "membershipDeletions")

    def _membership(self, list_id: int | str, contact_ids: Iterable[int | str], key: str) -> dict[str, Any]:
        current = self.get_contact_list(list_id)
        ids = [str(int(i)) for i in contact_ids]
        for start in range(0, len(ids), MEMBERSHIP_BATCH):
            body = {"id": str(list_id), "name": current["name"], key: ids[start:start + MEMBERSHIP_BATCH]}
            current = self.rest("PUT", f"assets/contact/list/{int(list_id)}", json=body)
        return current

    def bulk_contact_lists(self, name: str | None = None) -> list[dict[str, Any]]:
        """Lists as Bulk shows them, with the ``statement`` (``{{ContactList[123]}}``) filters use."""
        params = {"q": term("name", name)} if name is not None else {}
        return list(self.bulk_items("contacts/lists", params))
