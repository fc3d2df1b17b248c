"""Which registration's data each lookup key gets in one Create or Update Leads run, decided while
the registrations stream past in position order (no pass over all of them first).

The rule is "the last modified registration wins", applied to what has been seen so far: a later
registration takes a key over only when it was modified strictly later than the one holding it.
Pure bookkeeping, no I/O: the job decides what to send and records why."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Verdict(Enum):
    NEW = "new"      # nobody held the key: this registration holds it now
    NEWER = "newer"  # modified later than the holder: it takes the key over
    OLDER = "older"  # modified at the same time or before the holder: a duplicate, not sent


@dataclass(slots=True)
class KeyState:
    """One lookup key: who holds it, and what Marketo already got for it in this run."""

    code: str                 # registration code of the holder
    record_key: str           # how the holder is named in the run's records
    modified: float           # the holder's modification time (seconds; 0 when unknown)
    sent: bool = False        # a chunk of this run carried the key to Marketo
    lead_ids: set[int] = field(default_factory=set)  # leads this run (or the profiles) linked for it


def modified_rank(when: datetime | None) -> float:
    return when.timestamp() if when is not None else 0.0


class KeyClaims:
    """Per lookup key, the registration whose data Marketo gets (see the module docstring)."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyState] = {}

    def claim(self, key: str, code: str, record_key: str, modified: float) -> tuple[Verdict, KeyState | None]:
        """Offer a registration for ``key``. Returns the verdict and the state the key had before
        (for NEWER, the holder it displaces; for OLDER, the holder that stays)."""
        state = self._keys.get(key)
        if state is None:
            self._keys[key] = KeyState(code, record_key, modified)
            return Verdict.NEW, None
        if modified <= state.modified:
            return Verdict.OLDER, state
        before = KeyState(state.code, state.record_key, state.modified, state.sent, state.lead_ids)
        state.code, state.record_key, state.modified = code, record_key, modified
        return Verdict.NEWER, before

    def recall(self, key: str, code: str, record_key: str, modified: float, lead_id: int | None) -> None:
        """A registration handled before a resume's checkpoint: it claims as it did then, and the
        key counts as sent (it may have been; a later registration with newer data then goes too)."""
        self.claim(key, code, record_key, modified)
        state = self._keys[key]
        state.sent = True
        if lead_id is not None:
            state.lead_ids.add(lead_id)

    def sent(self, key: str, lead_id: int | None) -> None:
        """Marketo got the key's holder in a chunk (and answered with this lead, if any)."""
        state = self._keys[key]
        state.sent = True
        if lead_id is not None:
            state.lead_ids.add(lead_id)

    def linked_earlier(self, key: str, lead_id: int) -> bool:
        """Whether this lead was already linked for the key, by an earlier holder in this run."""
        state = self._keys.get(key)
        return state is not None and lead_id in state.lead_ids
