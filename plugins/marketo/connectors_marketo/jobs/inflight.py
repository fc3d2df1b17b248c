"""A chunk in flight when a worker died: telling the records it created from those it found.

A job that writes to Marketo commits each chunk's outcome with its checkpoint, after the call.
A worker that dies between Marketo's answer and that commit loses the answer, not the writes:
the attempt that resumes sends the chunk again and Marketo now answers "updated" for what the
dead attempt created, so the run would count ``updated`` what it in fact created. So before each
call the job saves the moment in its checkpoint (``mark()``), and the attempt that resumes counts
as created the records "updated" by that chunk whose ``createdAt`` (Marketo's clock) is at or
after the mark, less ``CLOCK_SLACK`` for clocks that disagree (``created_since``). Resuming costs
one read of those records; a run that never dies costs nothing but the mark's commit.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

#: how far Marketo's clock may be behind ours
CLOCK_SLACK = timedelta(seconds=2)


def mark() -> str:
    """Now, as the checkpoint keeps it (whole seconds, UTC: Marketo's own precision)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def moment(text: str) -> datetime:
    """A Marketo time ("…Z" or "…+0000") as an aware UTC datetime."""
    text = str(text).strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    value = datetime.fromisoformat(text)
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def created_since(records: Iterable[dict[str, Any]], since: str | None, id_field: str) -> set[str]:
    """Ids (as text) of the ``records`` created at or after the mark ``since`` (none without one)."""
    if since is None:
        return set()
    start = moment(since) - CLOCK_SLACK
    return {str(r[id_field]) for r in records if r.get("createdAt") and moment(r["createdAt"]) >= start}
