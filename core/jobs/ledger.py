"""A job's ledger: per key, the fingerprint of what the job last did for it. Reads go to the
database; writes wait and commit with the run's next checkpoint, so the ledger never says
"done" for work that a crash undid."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import LedgerEntry, utcnow


class Ledger:
    def __init__(self, session: Session, job_id: int, run_id: int):
        self._session, self._job_id, self._run_id = session, job_id, run_id
        self._pending: dict[str, str] = {}

    def get(self, keys: Iterable[str]) -> dict[str, str]:
        """The stored fingerprints of these keys (pending ones included)."""
        wanted = [str(k) for k in keys]
        found: dict[str, str] = {}
        for chunk in (wanted[i:i + 500] for i in range(0, len(wanted), 500)):
            rows = self._session.execute(select(LedgerEntry.key, LedgerEntry.fingerprint).where(
                LedgerEntry.job_id == self._job_id, LedgerEntry.key.in_(chunk)))
            found.update(dict(rows.all()))
        found.update({k: v for k, v in self._pending.items() if k in set(wanted)})
        return found

    def changed(self, fingerprints: dict[str, str]) -> dict[str, str]:
        """The subset whose fingerprint differs from the ledger's (new keys included)."""
        stored = self.get(fingerprints)
        return {k: v for k, v in fingerprints.items() if stored.get(str(k)) != v}

    def put(self, fingerprints: dict[str, str]) -> None:
        self._pending.update({str(k): str(v) for k, v in fingerprints.items()})

    def flush(self) -> None:
        """Write pending entries into the current transaction (called by the context's commit)."""
        if not self._pending:
            return
        existing = {e.key: e for e in self._session.scalars(select(LedgerEntry).where(
            LedgerEntry.job_id == self._job_id, LedgerEntry.key.in_(list(self._pending))))}
        now = utcnow()
        for key, fingerprint in self._pending.items():
            entry = existing.get(key)
            if entry is None:
                self._session.add(LedgerEntry(job_id=self._job_id, key=key, fingerprint=fingerprint,
                                              run_id=self._run_id, updated_at=now))
            else:
                entry.fingerprint, entry.run_id, entry.updated_at = fingerprint, self._run_id, now
        self._pending = {}

    def discard(self) -> None:
        self._pending = {}
