"""What an export sync does when it runs (spec §3.4): select the records its filter keeps (in id
order), stop at ``maxRecords`` (and, for activities, at the export cap, 5,000,000 in Eloqua),
write each as ``{column: value}`` and log ELQ-00102 with the count. The rows are kept with the
sync until its data retention runs out."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from . import statements as st

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox
    from .bulk_sync import Sync


def process(sandbox: "EloquaSandbox", sync: "Sync", now: float) -> None:
    definition = sync.definition
    records = _records(sandbox, definition.entity, definition.parent)
    keep = definition.filter or (lambda record: True)
    limit = definition.body.get("maxRecords")
    cap = sync.script.export_cap
    if definition.entity == st.ACTIVITIES:
        cap = min(cap or sandbox.bulk.activity_export_cap, sandbox.bulk.activity_export_cap)
    rows: list[dict[str, Any]] = []
    for record in records:
        if limit is not None and len(rows) >= limit or cap is not None and len(rows) >= cap:
            break
        if keep(record):
            rows.append({column: st.read(statement, record, sandbox, definition.utc)
                         for column, statement in definition.statements.items()})
    sync.export = rows
    sync.log("ELQ-00102", "Successfully exported members to csv file.", len(rows), "information", now)


def _records(sandbox: "EloquaSandbox", entity: str, parent: int | None) -> Iterable[Any]:
    if entity == st.CONTACTS:
        return sorted(sandbox.contacts.all(), key=lambda c: c.id)
    if entity == st.CUSTOM_OBJECTS:
        return sorted(sandbox.custom_objects.objects[parent].records.values(), key=lambda r: r.id)
    return sorted(sandbox.activities.activities.values(), key=lambda a: a.id)
