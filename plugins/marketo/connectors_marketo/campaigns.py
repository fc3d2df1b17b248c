"""Smart campaign calls: read a campaign, and request it for leads (spec §3)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .errors import MarketoError
from .leads import MAX_BATCH_SIZE, check_batch_size

if TYPE_CHECKING:  # pragma: no cover
    from .client import MarketoClient

MAX_TRIGGER_LEADS = 100
MAX_TRIGGER_TOKENS = 100


class CampaignsApi:
    """Mixed into ``MarketoClient``."""

    def get_campaign(self: "MarketoClient", campaign_id: int) -> dict[str, Any]:
        """``{id, name, type: trigger|batch, active, programName, ...}``; ``MarketoError`` 1013
        when there is no such campaign."""
        result = self.request("GET", f"/v1/campaigns/{int(campaign_id)}.json").result
        if not result:
            raise MarketoError("1013", f"campaign {campaign_id} not found")
        return result[0]

    def get_campaigns(self: "MarketoClient", *, name: str | None = None, program_name: str | None = None,
                      triggerable: bool | None = None, batch_size: int = MAX_BATCH_SIZE) -> list[dict[str, Any]]:
        """Campaigns, all pages; ``triggerable=True`` keeps those a job may request."""
        params: dict[str, Any] = {"batchSize": check_batch_size(batch_size)}
        if name is not None:
            params["name"] = name
        if program_name is not None:
            params["programName"] = program_name
        if triggerable is not None:
            params["isTriggerable"] = "true" if triggerable else "false"
        return [r for page in self.pages("/v1/campaigns.json", params) for r in page.records]

    def trigger_campaign(self: "MarketoClient", campaign_id: int, lead_ids: Iterable[int],
                         tokens: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Request an active trigger campaign for up to 100 leads, with up to 100 My Tokens
        (``{"{{my.EventName}}": "Summit"}`` or ``[{"name": .., "value": ..}]``).

        Never replayed after an answer that leaves it open whether Marketo ran it (a 5xx, a
        dropped connection): a campaign that runs twice may e-mail everyone twice. Those
        failures raise ``MarketoError`` for the caller to decide."""
        leads = [{"id": int(i)} for i in lead_ids]
        if not leads:
            raise ValueError("no leads to trigger the campaign for")
        if len(leads) > MAX_TRIGGER_LEADS:
            raise ValueError(f"at most {MAX_TRIGGER_LEADS} leads per request, not {len(leads)}: chunk them")
        body_input: dict[str, Any] = {"leads": leads}
        token_list = _tokens(tokens)
        if token_list:
            if len(token_list) > MAX_TRIGGER_TOKENS:
                raise ValueError(f"at most {MAX_TRIGGER_TOKENS} tokens, not {len(token_list)}")
            body_input["tokens"] = token_list
        result = self.request("POST", f"/v1/campaigns/{int(campaign_id)}/trigger.json",
                              json={"input": body_input}, idempotent=False).result
        return result[0] if result else {"id": int(campaign_id)}


def _tokens(tokens: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    if tokens is None:
        return []
    if isinstance(tokens, Mapping):
        return [{"name": name, "value": "" if value is None else str(value)} for name, value in tokens.items()]
    return [{"name": t["name"], "value": "" if t.get("value") is None else str(t["value"])} for t in tokens]
