"""``EventContext``: what ``on_event`` and ``verify`` may touch — the configuration, the store and
an HTTP session; no checkpoint or counters (one event is one unit of work)."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from ..mapping import Mapping, Mappings
from ..models import Account, Delivery, Event, PluginConfig
from ..secrets import SecretBox
from ..store import Store
from .context import TimeoutSession

_log = logging.getLogger("connectors.delivery")


class EventContext:
    def __init__(self, *, connection: dict[str, Any], mappings: Mappings, store: Store, delivery_id: int,
                 attempt: int):
        self.connection, self.mappings, self.store = connection, mappings, store
        self.delivery_id, self.attempt = delivery_id, attempt
        self.log = logging.LoggerAdapter(_log, {"delivery": delivery_id})
        self._http: TimeoutSession | None = None

    def http(self) -> TimeoutSession:
        if self._http is None:
            self._http = TimeoutSession()
        return self._http

    @classmethod
    def build(cls, session: Session, box: SecretBox, config: PluginConfig, account: Account, event: Event | None,
              delivery: Delivery) -> "EventContext":
        connection = {**(config.connection or {}), **box.open(config.secrets)}
        mappings = Mappings(Mapping(m.direction, m.certain_field, m.remote_field, m.transform, m.update_policy,
                                    m.is_match_key, m.required) for m in config.mappings)
        return cls(connection=connection, mappings=mappings,
                   store=Store(session, account, event, actor={"type": "job", "id": str(delivery.job_id)}),
                   delivery_id=delivery.id, attempt=delivery.attempts)
