"""``GET /rest/v1/stats/usage.json`` (and ``usage/last7days.json``): today's calls, per API user.

These reads are bookkeeping for a client's daily budget; they are not counted against the
quota themselves (Adobe does not say whether they are) [inference]."""
from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from connectors.sandbox import Request, Response

if TYPE_CHECKING:  # pragma: no cover
    from .app import MarketoSandbox


def register(sandbox: "MarketoSandbox") -> None:
    def today() -> dict[str, Any]:
        users = sandbox.quota.by_user()
        return {"date": sandbox.quota.today(), "total": sum(users.values()),
                "users": [{"userId": user_id(u), "count": n} for u, n in sorted(users.items())]}

    def usage(request: Request) -> Response:
        return sandbox.ok([today()])

    def last7days(request: Request) -> Response:
        first = today()
        day = date.fromisoformat(first["date"])
        older = [{"date": (day - timedelta(days=i)).isoformat(), "total": 0, "users": []} for i in range(1, 7)]
        return sandbox.ok([first, *older])

    sandbox.routes.add("GET", r"/rest/v1/stats/usage\.json", usage)
    sandbox.routes.add("GET", r"/rest/v1/stats/usage/last7days\.json", last7days)


def user_id(client_id: str) -> str:
    """Marketo names API users by an e-mail-like id."""
    return client_id if "@" in client_id else f"{client_id}@sandbox.marketo.local"
