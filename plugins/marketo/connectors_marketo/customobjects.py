"""Custom object calls (spec §2.5): where Certain's engagement and interest metrics land."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from .errors import MarketoError
from .leads import MAX_BATCH_SIZE, check_input

if TYPE_CHECKING:  # pragma: no cover
    from .client import MarketoClient

CUSTOM_OBJECT_ACTIONS = ("createOnly", "updateOnly", "createOrUpdate")
DEDUPE_BY = ("dedupeFields", "idField")


class CustomObjectsApi:
    """Mixed into ``MarketoClient``."""

    def list_custom_objects(self: "MarketoClient", names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Custom object types: ``{name, displayName, idField, dedupeFields, searchableFields, relationships}``."""
        params = {"names": ",".join(names)} if names is not None else None
        return self.request("GET", "/v1/customobjects.json", params=params).result

    def describe_custom_object(self: "MarketoClient", api_name: str) -> dict[str, Any]:
        """One type with its ``fields``, ``dedupeFields`` and ``relationships`` (the link to the
        lead); ``MarketoError`` 1013 when the instance has no such object."""
        result = self.request("GET", f"/v1/customobjects/{api_name}/describe.json").result
        if not result:
            raise MarketoError("1013", f"custom object {api_name} not found")
        return result[0]

    def sync_custom_objects(self: "MarketoClient", api_name: str, records: list[dict[str, Any]],
                            action: str = "createOrUpdate", dedupe_by: str = "dedupeFields") -> list[dict[str, Any]]:
        """Upsert up to 300 records. Returns per-record results in input order:
        ``{seq, status: created|updated, marketoGUID}`` or ``{seq, status: skipped, reasons}``."""
        if action not in CUSTOM_OBJECT_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(CUSTOM_OBJECT_ACTIONS)}, not {action!r}")
        if dedupe_by not in DEDUPE_BY:
            raise ValueError(f"dedupe_by must be one of {', '.join(DEDUPE_BY)}, not {dedupe_by!r}")
        check_input(records)
        body = {"action": action, "dedupeBy": dedupe_by, "input": list(records)}
        return self.request("POST", f"/v1/customobjects/{api_name}.json", json=body).result

    def get_custom_objects(self: "MarketoClient", api_name: str, filter_type: str, filter_values: Iterable[Any],
                           fields: Iterable[str] | None = None, batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Records whose ``filter_type`` (a searchable field) is one of ``filter_values``."""
        return self.filtered(f"/v1/customobjects/{api_name}.json", filter_type, filter_values, fields, batch_size)
