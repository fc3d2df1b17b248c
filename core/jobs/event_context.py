"""``EventContext``: what ``on_event`` and ``verify`` may touch — the configuration, the store and
an HTTP session; no checkpoint or counters (one event is one unit of work).

What the plugin writes through ``store`` (a remote id it looked up) is committed when
``on_event`` returns. Reads that precede remote calls go through ``registration()``, which ends
its transaction at once: no transaction (on SQLite, no write lock) is held while the plugin waits
on the network.

``status_mappings`` is the configuration's outbound status mappings (Certain status -> remote
status or activity type) for the changed event: the account-wide rows, overridden by that
event's own. They are loaded with the configuration (no query per delivery).

Per delivery thread, one HTTP session per plugin configuration is kept and reused (its
connections stay open: no new TCP/TLS handshake per delivery); ``requests.Session`` is not safe
across threads, hence per thread. A session keeps cookies a target set for one set of
credentials, so it is kept under the configuration's ``credentials_key``: once the settings
change (an edited secret or endpoint, a rotated token saved back) the next delivery gets a new
session and the old one is closed. Decrypted secrets are cached by their ciphertext: the same
ciphertext always opens to the same values, and a changed secret (a rotated token, an edit) is a
new ciphertext, so nothing stale can be served; and a ciphertext opens only with this process's
secret key, so the cache can hand nobody anything they did not already hold.
"""
from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..connection_keys import ConnectionSettings, CredentialsKey, credentials_key
from ..connection_state import ConnectionState
from ..mapping import Mapping, Mappings
from ..models import Account, Event, PluginConfig, Profile, Registration
from ..secrets import SecretBox
from ..store import VIEW_COLUMNS, RegistrationView, Store, view_of_row
from .context import TimeoutSession

_log = logging.getLogger("connectors.delivery")
_threads = threading.local()  # .sessions: {configuration id: (CredentialsKey, TimeoutSession)} of this thread


def _thread_session(config_id: int | None, credentials: CredentialsKey) -> TimeoutSession:
    """This thread's session for the configuration, new (and the old one closed) when its
    credentials changed: cookies and connections made for other settings are never reused."""
    sessions = getattr(_threads, "sessions", None)
    if sessions is None:
        sessions = _threads.sessions = {}
    kept = sessions.get(config_id)
    if kept is None or kept[0] != credentials:
        if kept is not None:
            kept[1].close()
        kept = sessions[config_id] = (credentials, TimeoutSession())
    return kept[1]


@lru_cache(maxsize=64)
def _opened(box: SecretBox, token: str | None) -> tuple[tuple[str, Any], ...]:
    return tuple(box.open(token).items())


class EventContext:
    def __init__(self, *, connection: dict[str, Any], mappings: Mappings, store: Store, delivery_id: int,
                 attempt: int, session: Session | None = None, event_id: int | None = None,
                 connection_state: ConnectionState | None = None, job_id: int | None = None,
                 config_id: int | None = None, registrations: dict[str, RegistrationView] | None = None,
                 status_mappings: dict[str, str] | None = None):
        self.connection, self.mappings, self.store = connection, mappings, store
        #: Certain status -> remote status / activity type, from the plugin configuration
        self.status_mappings: dict[str, str] = dict(status_mappings or {})
        self.delivery_id, self.attempt, self.job_id = delivery_id, attempt, job_id
        #: the plugin configuration's secrets as durable state (rotating OAuth tokens), see ``ConnectionState``
        self.connection_state = connection_state
        self.log = logging.LoggerAdapter(_log, {"delivery": delivery_id})
        self._session, self._event_id = session, event_id
        self._config_id = config_id
        self._credentials: CredentialsKey | None = None
        self._registrations = dict(registrations or {})

    def http(self) -> TimeoutSession:
        """This thread's session for the plugin configuration (kept for its next deliveries
        while the configuration's settings stay the same)."""
        if self._credentials is None:
            self._credentials = credentials_key(self.connection)
        return _thread_session(self._config_id, self._credentials)

    def registration(self, registration_code: str) -> RegistrationView | None:
        """The event's registration with this code and its person (``external_ids`` included):
        the one the dispatcher read with the event when it planned the delivery, else read now in a
        transaction that ends before this returns."""
        if registration_code in self._registrations:
            return self._registrations[registration_code]
        if self._session is None or self._event_id is None:
            return None
        s = self._session
        try:
            row = s.execute(select(*VIEW_COLUMNS).join(Profile, Profile.id == Registration.profile_id).where(
                Registration.event_id == self._event_id, Registration.registration_code == registration_code)).first()
            return view_of_row(row) if row is not None else None
        finally:
            s.commit()

    @classmethod
    def build(cls, session: Session, box: SecretBox, config: PluginConfig, account: Account, event: Event | None, *,
              delivery_id: int, attempt: int, job_id: int, factory=None,
              registrations: dict[str, RegistrationView] | None = None,
              mappings: Mappings | None = None, status_mappings: dict[str, str] | None = None) -> "EventContext":
        """``status_mappings`` None: read from ``config`` (its rows loaded) for ``event``."""
        connection = ConnectionSettings({**(config.connection or {}), **dict(_opened(box, config.secrets))}, config.id)
        if status_mappings is None:
            status_mappings = status_map(config, event.id if event is not None else None)
        return cls(config_id=config.id, connection=connection, mappings=mappings if mappings is not None else mappings_of(config),
                   store=Store(session, account, event, actor={"type": "job", "id": str(job_id)}),
                   delivery_id=delivery_id, attempt=attempt, session=session,
                   event_id=event.id if event is not None else None, job_id=job_id,
                   connection_state=ConnectionState(factory, box, config.id) if factory is not None else None,
                   registrations=registrations, status_mappings=status_mappings)


def mappings_of(config: PluginConfig) -> Mappings:
    return Mappings(Mapping(m.direction, m.certain_field, m.remote_field, m.transform, m.update_policy,
                            m.is_match_key, m.required) for m in config.mappings)


def status_map(config: PluginConfig, event_id: int | None, direction: str = "outbound") -> dict[str, str]:
    """``{Certain status: remote status}`` of ``config`` for one event (``inbound``: remote ->
    Certain): the rows for every event, then the event's own rows over them (certain.md §5.2)."""
    rows = [m for m in config.status_mappings if m.direction == direction
            and (m.event_id is None or (event_id is not None and m.event_id == event_id))]
    pairs = ((m.certain_status, m.remote_status) if direction == "outbound" else (m.remote_status, m.certain_status)
             for m in sorted(rows, key=lambda m: m.event_id is not None))  # stable: the event's rows last
    return dict(pairs)
