"""Lead database calls: lead schema, static lists and their members, reading and writing leads."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .errors import MarketoError
from .responses import Page

if TYPE_CHECKING:  # pragma: no cover
    from .client import MarketoClient

MAX_BATCH_SIZE = 300
LEAD_ACTIONS = ("createOnly", "updateOnly", "createOrUpdate", "createDuplicate")


class LeadsApi:
    """Mixed into ``MarketoClient``; every call goes through its ``request``."""

    def describe_leads(self: "MarketoClient") -> list[dict[str, Any]]:
        """Lead fields: ``{id, displayName, dataType, length, rest{name, readOnly}, ...}``."""
        return self.request("GET", "/v1/leads/describe.json").result

    def get_lists(self: "MarketoClient", name: str | Iterable[str] | None = None, ids: Iterable[int] | None = None,
                  batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Static lists, optionally filtered by exact name(s) and/or ids, all pages."""
        params: dict[str, Any] = {"batchSize": check_batch_size(batch_size)}
        if name is not None:
            params["name"] = name if isinstance(name, str) else ",".join(name)
        if ids is not None:
            params["id"] = ",".join(str(int(i)) for i in ids)
        return [record for page in self.pages("/v1/lists.json", params) for record in page.records]

    def get_list(self: "MarketoClient", list_id: int) -> dict[str, Any]:
        """One static list; ``MarketoError`` with code 1013 when there is no such list."""
        result = self.request("GET", f"/v1/lists/{int(list_id)}.json").result
        if not result:
            raise MarketoError("1013", f"static list {list_id} not found")
        return result[0]

    def iter_list_members(self: "MarketoClient", list_id: int, fields: Iterable[str], batch_size: int = MAX_BATCH_SIZE,
                          next_page_token: str | None = None) -> Iterator[Page]:
        """The members of a static list, page by page, starting after ``next_page_token``."""
        params = {"fields": ",".join(fields), "batchSize": check_batch_size(batch_size)}
        return self.pages(f"/v1/lists/{int(list_id)}/leads.json", params, next_page_token)

    def get_leads(self: "MarketoClient", filter_type: str, filter_values: Iterable[Any],
                  fields: Iterable[str] | None = None, batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Leads whose ``filter_type`` field is one of ``filter_values`` (sent 300 at a time)."""
        return self.filtered("/v1/leads.json", filter_type, filter_values, fields, batch_size)

    def sync_leads(self: "MarketoClient", records: list[dict[str, Any]], action: str = "createOrUpdate",
                   lookup_field: str = "email", partition_name: str | None = None) -> list[dict[str, Any]]:
        """Create/update up to 300 leads in one call. Returns Marketo's per-record results in
        input order: ``{id, status: created|updated}`` or ``{status: skipped, reasons: [...]}``.

        The caller chunks, and must never send the same lookup key in two concurrent calls:
        Marketo can then create the lead twice (spec §2.2)."""
        if action not in LEAD_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(LEAD_ACTIONS)}, not {action!r}")
        check_input(records)
        body: dict[str, Any] = {"action": action, "lookupField": lookup_field, "input": list(records)}
        if partition_name:
            body["partitionName"] = partition_name
        return self.request("POST", "/v1/leads.json", json=body).result


def check_batch_size(size: int) -> int:
    if not 1 <= int(size) <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH_SIZE}, not {size}")
    return int(size)


def check_input(records: list[Any], limit: int = MAX_BATCH_SIZE) -> None:
    """Marketo refuses a whole call over its batch limit (1003); say so before calling."""
    if not records:
        raise ValueError("no records to send")
    if len(records) > limit:
        raise ValueError(f"at most {limit} records per call, not {len(records)}: chunk them")
