"""Smart campaigns and the "Request Campaign" runs made through the API (spec §3)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from .envelope import ApiError
from .store import now_iso

MAX_LEADS = 100
MAX_TOKENS = 100
TOKEN_NAME = re.compile(r"\{\{my\.[^{}]+\}\}")


@dataclass(frozen=True)
class CampaignRun:
    """One accepted trigger request, for tests to assert on."""

    campaign_id: int
    lead_ids: tuple[int, ...]
    tokens: tuple[tuple[str, str], ...]
    requested_at: str

    @property
    def token_values(self) -> dict[str, str]:
        return dict(self.tokens)


class CampaignStore:
    """Not thread-safe on its own: the sandbox serialises access with its lock."""

    def __init__(self) -> None:
        self.campaigns: dict[int, dict[str, Any]] = {}
        self.requestable: dict[int, bool] = {}  # "Campaign is Requested" (Web Service API) trigger
        self.runs: list[CampaignRun] = []
        self._next_id = 1001
        self._program_ids: dict[str, int] = {}

    def add(self, name: str, *, type: str = "trigger", active: bool = True, requestable: bool | None = None,
            program_name: str = "SUMMIT26 Program", workspace_name: str = "Default", description: str = "",
            campaign_id: int | None = None) -> dict[str, Any]:
        if type not in ("trigger", "batch"):
            raise ValueError("type is trigger or batch")
        cid = int(campaign_id or self._next_id)
        if cid in self.campaigns:
            raise ValueError(f"campaign {cid} exists")
        self._next_id = max(self._next_id, cid + 1)
        program_id = self._program_ids.setdefault(program_name, 2000 + len(self._program_ids) + 1)
        stamp = now_iso()
        record = {"id": cid, "name": name, "description": description, "type": type, "programId": program_id,
                  "programName": program_name, "workspaceName": workspace_name, "active": active,
                  "createdAt": stamp, "updatedAt": stamp}
        self.campaigns[cid] = record
        self.requestable[cid] = (type == "trigger") if requestable is None else requestable
        return record

    def triggerable(self, cid: int) -> bool:
        """What ``isTriggerable=true`` means: an active trigger campaign requestable by the API."""
        record = self.campaigns[cid]
        return record["type"] == "trigger" and record["active"] and self.requestable[cid]

    def find(self, ids: set[int] | None = None, names: set[str] | None = None, programs: set[str] | None = None,
             workspaces: set[str] | None = None, triggerable: bool | None = None) -> list[dict[str, Any]]:
        found = []
        for cid, record in sorted(self.campaigns.items()):
            if ids is not None and cid not in ids or names is not None and record["name"] not in names:
                continue
            if programs is not None and record["programName"] not in programs:
                continue
            if workspaces is not None and record["workspaceName"] not in workspaces:
                continue
            if triggerable is not None and self.triggerable(cid) != triggerable:
                continue
            found.append(record)
        return found

    def trigger(self, cid: int, body: Any) -> CampaignRun:
        """Check a trigger request like Marketo does and record it; ``ApiError`` otherwise."""
        record = self.campaigns.get(cid)
        if record is None:
            raise ApiError("1013", f"Campaign {cid} not found")
        payload = body.get("input") if isinstance(body, dict) else None
        if not isinstance(payload, dict):
            raise ApiError("1003", "input is required")
        lead_ids = _lead_ids(payload.get("leads"))
        tokens = _tokens(payload.get("tokens"))
        if record["type"] == "batch":
            raise ApiError("1003", f"Cannot request a batch campaign '{record['name']}'")
        if not record["active"]:
            raise ApiError("1003", f"Trigger campaign '{record['name']}' is not active")
        if not self.requestable[cid]:
            raise ApiError("1003", f"Campaign '{record['name']}' has no 'Campaign is Requested' trigger "
                                   "with source Web Service API")
        run = CampaignRun(cid, lead_ids, tokens, now_iso())
        self.runs.append(run)
        return run


def _lead_ids(leads: Any) -> tuple[int, ...]:
    if not isinstance(leads, list) or not leads:
        raise ApiError("1003", "input.leads is required")
    if len(leads) > MAX_LEADS:
        raise ApiError("1003", f"Too many leads: {len(leads)} (max {MAX_LEADS})")
    ids = []
    for lead in leads:
        value = lead.get("id") if isinstance(lead, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApiError("1003", f"Invalid lead id {value!r}")
        ids.append(value)
    return tuple(ids)


def _tokens(tokens: Any) -> tuple[tuple[str, str], ...]:
    if tokens is None:
        return ()
    if not isinstance(tokens, list):
        raise ApiError("1003", "input.tokens must be a list")
    if len(tokens) > MAX_TOKENS:
        raise ApiError("1003", f"Too many tokens: {len(tokens)} (max {MAX_TOKENS})")
    pairs = []
    for token in tokens:
        name = token.get("name") if isinstance(token, dict) else None
        if not isinstance(name, str) or not TOKEN_NAME.fullmatch(name):
            raise ApiError("1003", f"Invalid token name {name!r}: use {{{{my.Name}}}}")
        pairs.append((name, str(token.get("value", ""))))
    return tuple(pairs)


def as_set(values: Iterable[str] | None) -> set[str] | None:
    return set(values) if values is not None else None
