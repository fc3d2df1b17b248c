"""Where the sandbox's exports find their leads (spec §4.1 filters): the real leads of the store,
synthetic leads made up from their id (a million cost a range, not a million dicts), and smart
lists. ``LeadSources`` is mixed into ``BulkExports``; tests call its methods as
``sandbox.bulk.add_synthetic_leads(...)`` / ``sandbox.bulk.add_smart_list(...)``."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .seed import COMPANIES, FIRST_NAMES, LAST_NAMES, PLACES, TITLES

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox
    from .bulk import ExportJob

DAY = 86400.0


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(text: str) -> float:
    """Epoch seconds of an ISO-8601 datetime (no zone means UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class SyntheticLeads:
    """``count`` leads with ids from ``first_id``, each made up from its id when read."""

    first_id: int
    count: int
    list_id: int | None
    created_from: float
    span: int
    dirty: bool = False

    def leads(self) -> Iterator[dict[str, Any]]:
        return map(self.lead, range(self.first_id, self.first_id + self.count))

    def lead(self, k: int) -> dict[str, Any]:
        company, domain = COMPANIES[(k // 3) % len(COMPANIES)]
        city, state, country = PLACES[(k // 11) % len(PLACES)][:3]
        created = self.created_from + (k * 7919) % self.span
        lead = {"id": k, "email": f"lead{k}@{domain}", "firstName": FIRST_NAMES[k % len(FIRST_NAMES)],
                "lastName": LAST_NAMES[(k // 7) % len(LAST_NAMES)], "company": company,
                "title": TITLES[k % len(TITLES)] if k % 10 else None, "city": city, "state": state,
                "country": country, "createdAt": iso(created), "updatedAt": iso(created + (k * 104729) % DAY)}
        if self.dirty and k % 97 == 0:
            lead.update(company='株式会社サクラ, "東京"', title="Head of\nEvents")
        return lead


@dataclass(frozen=True)
class SmartList:
    id: int
    name: str
    lead_ids: frozenset[int]
    where: Callable[[dict[str, Any]], bool] | None

    def contains(self, lead: dict[str, Any]) -> bool:
        return lead["id"] in self.lead_ids or bool(self.where and self.where(lead))


class LeadSources:
    """The leads an export can select: the store's, synthetic segments, smart lists."""

    sandbox: "MarketoSandbox"
    lock: threading.RLock
    segments: list[SyntheticLeads]
    smart_lists: dict[int, SmartList]

    def add_synthetic_leads(self, count: int, list_name: str | None = None, *, created_from: str = "2025-03-01T00:00:00Z",
                            days: int = 30, dirty: bool = False) -> SyntheticLeads:
        """``count`` leads made up on the fly from their id, seen by exports only (REST reads do
        not see them): a million cost a range, not a million dicts. With ``list_name`` they are
        the members of that static list (created when missing); createdAt falls within ``days``
        from ``created_from``; ``dirty`` puts CJK, quotes and newlines in some values."""
        with self.lock:
            store = self.sandbox.store
            first_id = max([store._next_lead_id, *(s.first_id + s.count for s in self.segments)])
            store._next_lead_id = first_id + count  # REST-created leads must not reuse these ids
            list_id = None
            if list_name is not None:
                found = store.find_lists(names={list_name})
                list_id = found[0]["id"] if found else store.add_list(list_name)["id"]
            segment = SyntheticLeads(first_id, count, list_id, stamp(created_from), int(days * DAY), dirty)
            self.segments.append(segment)
            return segment

    def add_smart_list(self, name: str, lead_ids: Iterable[int] = (),
                       where: Callable[[dict[str, Any]], bool] | None = None) -> int:
        """A smart list for the smartListId/smartListName filters: the leads in ``lead_ids`` and
        those ``where`` accepts. Returns its id."""
        with self.lock:
            list_id = 5000 + len(self.smart_lists) + 1
            self.smart_lists[list_id] = SmartList(list_id, name, frozenset(int(i) for i in lead_ids), where)
            return list_id

    def selection(self, job: "ExportJob") -> Iterator[dict[str, Any]]:
        """The leads the job's filter picks, real ones by id then synthetic ones."""
        store, kind, value = self.sandbox.store, job.filter_type, job.filter_value
        if kind in ("staticListId", "staticListName"):
            yield from store.member_leads(value)
            for segment in self.segments:
                if segment.list_id == value:
                    yield from segment.leads()
            return
        if kind in ("createdAt", "updatedAt"):
            low, high = value
            def wanted(lead: dict[str, Any]) -> bool:
                return lead.get(kind) is not None and low <= stamp(lead[kind]) <= high
        else:
            wanted = self.smart_lists[value].contains
        for lead in sorted(store.leads.values(), key=lambda lead: lead["id"]):
            if wanted(lead):
                yield lead
        for segment in self.segments:
            yield from (lead for lead in segment.leads() if wanted(lead))
