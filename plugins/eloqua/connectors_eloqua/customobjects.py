"""Custom objects (CDOs, spec §2.5): definitions and records through REST 2.0, fields through
Bulk (with the statements an import definition needs). A record create that may or may not
have happened is looked up by its unique code before it is sent again."""
from __future__ import annotations

from typing import Any, Iterator

from .creates import create_checked
from .rest import MAX_COUNT, pages, term


class CustomObjectsApi:
    def custom_objects(self, name: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"depth": "complete"}
        if name is not None:
            params["search"] = term("name", name)
        return list(pages(lambda p: self.rest("GET", "assets/customObjects", version="2.0", params=p), params))

    def find_custom_object(self, name: str) -> dict[str, Any] | None:
        return next((o for o in self.custom_objects(name) if o.get("name", "").lower() == name.lower()), None)

    def get_custom_object(self, object_id: int | str) -> dict[str, Any]:
        return self.rest("GET", f"assets/customObject/{int(object_id)}", version="2.0", params={"depth": "complete"})

    def custom_object_records(self, object_id: int | str, search: str | None = None, count: int = MAX_COUNT
                              ) -> Iterator[dict[str, Any]]:
        params = {"search": search} if search else {}
        path = f"data/customObject/{int(object_id)}/instances"
        return pages(lambda p: self.rest("GET", path, version="2.0", params=p), params, count)

    def create_custom_object_record(self, object_id: int | str, record: dict[str, Any],
                                    unique_code: str | None = None) -> dict[str, Any]:
        """The new record. ``unique_code`` (the value of the object's unique field) lets the client
        check, after an ambiguous failure, whether the record was made before sending it again;
        without it such a failure is raised as ``EloquaAmbiguousError``."""
        path = f"data/customObject/{int(object_id)}/instance"
        create = lambda: self.rest("POST", path, version="2.0", json=record, idempotent=False)  # noqa: E731
        if unique_code is None:
            return create()
        return create_checked(
            self, create, lambda: next(self.custom_object_records(object_id, term("uniqueCode", unique_code), 10), None))

    def update_custom_object_record(self, object_id: int | str, record_id: int | str, record: dict[str, Any]
                                    ) -> dict[str, Any]:
        path = f"data/customObject/{int(object_id)}/instance/{int(record_id)}"
        return self.rest("PUT", path, version="2.0", json={**record, "id": str(record_id)})

    def bulk_custom_objects(self) -> list[dict[str, Any]]:
        return list(self.bulk_items("customObjects"))

    def custom_object_fields(self, object_id: int | str) -> list[dict[str, Any]]:
        """Fields with their Bulk ``statement`` (``{{CustomObject[9].Field[41]}}``)."""
        return list(self.bulk_items(f"customObjects/{int(object_id)}/fields"))
