"""A batch's new rows, written with multi-row INSERTs rather than through the ORM's unit of work.

On SQLite the ORM inserts one row per ``INSERT … RETURNING`` (it needs each id back in order, and
has no batched form for server-generated keys there); building and flushing the objects was over
40 % of a bulk import. Here each new row is a plain object until one ``INSERT … VALUES (…), (…)
RETURNING id, code`` writes the lot, and the ids are matched back by the row's unique random code
(a profile's pin, a registration's code), so the order of RETURNING does not matter.

A generated code may already be taken (by an older row, or by another writer). The batch then
rolls back to its savepoint, draws new codes for the rows whose codes are taken, and tries again:
a collision costs a retry, never the run, and nothing is written twice or lost.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .codes import CodeGenerator

#: Attempts at one batch's INSERT. A collision is ~10⁻¹² likely per code, so a second attempt is
#: already rare; more than one collision in a row means another cause, which is then raised.
MAX_ATTEMPTS = 5


class NewRow:
    """A row created in this batch: plain attributes the batch can still change, then its id."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)
        self.id: int | None = None


def insert_new_rows(session: Session, table: Table, rows: list[NewRow], *, columns: Iterable[str],
                    code: str, prefix: str, scope: str, codes: CodeGenerator, drawn: set[int] | None = None) -> None:
    """INSERT ``rows`` (their ``columns``) and set each one's ``id``.

    ``code`` is the column that is unique within ``scope`` (``pin`` within ``account_id``,
    ``registration_code`` within ``event_id``); every row of the batch shares the scope.
    ``drawn`` holds the ``id()`` of the rows whose code was generated here (default: all), the
    only ones that may be given another code: a code that came from outside is never changed."""
    if not rows:
        return
    columns = tuple(columns)
    drawn = {id(r) for r in rows} if drawn is None else drawn
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with session.begin_nested():
                returned = session.execute(insert(table).returning(table.c.id, table.c[code]),
                                           [{c: getattr(r, c) for c in columns} for r in rows])
                ids = {value: row_id for row_id, value in returned}
        except IntegrityError:
            taken = _taken_codes(session, table, rows, code=code, scope=scope)
            redraw = [r for r in rows if id(r) in drawn and getattr(r, code) in taken]
            if not redraw or attempt == MAX_ATTEMPTS:
                raise
            for row, fresh in zip(redraw, codes.draw(prefix, len(redraw))):
                setattr(row, code, fresh)
            continue
        for r in rows:
            r.id = ids[getattr(r, code)]
        return


def _taken_codes(session: Session, table: Table, rows: list[NewRow], *, code: str, scope: str) -> set[str]:
    """The batch's codes that an existing row holds, or that two rows of the batch share."""
    values = [getattr(r, code) for r in rows]
    taken = {v for v, n in Counter(values).items() if n > 1}
    q = select(table.c[code]).where(table.c[scope] == getattr(rows[0], scope), table.c[code].in_(set(values)))
    taken.update(session.scalars(q))
    return taken
