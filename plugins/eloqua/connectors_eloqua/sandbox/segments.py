"""Contact segments (spec §3.4): in Eloqua a segment is a saved set of criteria whose members
are worked out when it is refreshed; Bulk exports filter on the current members with
``EXISTS('{{ContactSegment[id]}}')``. The sandbox keeps those members as a set (tests and
the demo say who is in), which is all an export can observe."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable


@dataclass
class ContactSegment:
    id: int
    name: str
    members: set[int] = field(default_factory=set)
    updated_at: int = 0

    @property
    def statement(self) -> str:
        return "{{ContactSegment[%d]}}" % self.id


class SegmentStore:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.segments: dict[int, ContactSegment] = {}
        self._next_id = 201

    def create(self, name: str, members: Iterable[int] = ()) -> ContactSegment:
        record = ContactSegment(self._next_id, name, set(members), int(self.clock()))
        self._next_id += 1
        self.segments[record.id] = record
        return record
