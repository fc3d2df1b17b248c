"""``JobContext``: everything a handler may touch while it runs (ARCHITECTURE §2)."""
from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import urlsplit

import requests
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from ..mapping import Mappings
from ..models import OUTCOMES, JobRun, RunRecord
from ..store import Store
from . import runs
from .ledger import Ledger
from .runs import Claim

if TYPE_CHECKING:  # pragma: no cover
    from ..connection_state import ConnectionState

USER_AGENT = "connectors/0.1 (+https://github.com/connectors)"
_log = logging.getLogger("connectors.run")


class LeaseLost(RuntimeError):
    """This worker no longer owns the run; what it did since its last checkpoint is discarded."""


def _no_auth(request):
    """Credentials that add nothing: a request that has them is not looked up in ``.netrc``."""
    return request


class TimeoutSession(requests.Session):
    """A ``requests.Session`` that never waits forever: every request gets a default timeout."""

    def __init__(self, timeout: float | tuple[float, float] = (10, 300)):
        super().__init__()
        self.default_timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, **kwargs)

    def prepare_request(self, request):
        """``requests`` looks for a ``.netrc`` file (two file-system checks) on every request
        without credentials of its own: the answer is kept per host, like the environment's below."""
        if request.auth is None and self.auth is None and self.trust_env:
            cache = self.__dict__.setdefault("_netrc_auth", {})
            host = urlsplit(request.url)[:2]
            if host not in cache:
                cache[host] = requests.utils.get_netrc_auth(request.url) or _no_auth
            request.auth = cache[host]
        return super().prepare_request(request)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        """``requests`` reads the environment (proxy variables, ``no_proxy``, CA bundle) again
        for every request — a tenth of an activity's CPU. The answer depends only on the host and
        the arguments, so it is kept per host for this session's life (an environment changed
        afterwards is seen by new sessions)."""
        key = (urlsplit(url)[:2], tuple(sorted(proxies.items())) if proxies else None, stream, verify,
               tuple(cert) if isinstance(cert, list) else cert)
        cache = self.__dict__.setdefault("_environment_settings", {})
        if key not in cache:
            cache[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings = cache[key]
        return {**settings, "proxies": dict(settings["proxies"])}


class Checkpoint:
    """``load()`` the state a previous attempt saved; ``save(state)`` makes all work so far durable."""

    def __init__(self, ctx: "JobContext", state: dict[str, Any] | None):
        self._ctx, self._state = ctx, state

    def load(self) -> dict[str, Any] | None:
        return self._state

    def save(self, state: dict[str, Any] | None) -> None:
        self._state = state
        self._ctx.commit()


class RunLog:
    """A logger whose lines are also kept on the run (shown on the run page)."""

    def __init__(self, ctx: "JobContext"):
        self._ctx = ctx

    def _add(self, level: str, message: str, *args) -> None:
        text = message % args if args else message
        getattr(_log, level)("run %s: %s", self._ctx.run_id, text)
        self._ctx._pending_log.append(runs.log_entry(level, text))

    def info(self, message: str, *args) -> None:
        self._add("info", message, *args)

    def warning(self, message: str, *args) -> None:
        self._add("warning", message, *args)

    def error(self, message: str, *args) -> None:
        self._add("error", message, *args)


class JobContext:
    """Built by the core for one run attempt. Handlers use only the attributes documented here:
    ``connection``, ``mappings``, ``store``, ``params``, ``progress()``, ``record()``,
    ``checkpoint``, ``cancelled()``, ``log``, ``http()``, ``ledger``, ``since``, ``only_keys``, ``wants()``,
    ``run_id``, ``attempt``, ``connection_state`` and ``catch_up()``. A retry run processes only the records
    whose keys ``only_keys`` holds: ask ``wants(key)`` before processing one (docs/plugins.md)."""

    MAX_LOG_LINES = 500

    def __init__(self, *, factory: sessionmaker[Session], session: Session, claim: Claim, store: Store,
                 connection: dict[str, Any], mappings: Mappings, checkpoint: dict[str, Any] | None,
                 counters: dict[str, int] | None = None, progress: tuple[int, int | None] = (0, None),
                 log_lines: list[dict[str, Any]] | None = None, job_id: int | None = None,
                 since: datetime | None = None, connection_state: "ConnectionState | None" = None,
                 catch_up: Callable[..., Any] | None = None, only_keys: Iterable[str] | None = None):
        self._factory, self._session, self._claim = factory, session, claim
        self.store, self.mappings = store, mappings
        #: the configuration's settings, secrets decrypted: a ``ConnectionSettings`` (a dict that
        #: knows its ``config_id``) when the core built it; key caches by ``credentials_key`` of it
        self.connection = connection
        self.checkpoint = Checkpoint(self, checkpoint)
        self.log = RunLog(self)
        self.counters: Counter[str] = Counter(counters or {})
        self._progress = progress
        self._log_lines = list(log_lines or [])
        self._committed = (Counter(self.counters), progress, checkpoint)
        self._pending_records: list[RunRecord] = []
        self._pending_log: list[dict[str, Any]] = []
        self._cancel_seen, self._cancel_checked_at = False, 0.0
        self._http: TimeoutSession | None = None
        self.ledger = Ledger(session, job_id, claim.run_id) if job_id is not None else None
        #: a retry run's record keys (the problems asked for), None for a run of all records: a job
        #: processes only the records whose keys are in it (outbound selections narrow by themselves)
        self.only_keys: frozenset[str] | None = frozenset(only_keys) if only_keys is not None else None
        #: start of this job's last successful run (None if none): the watermark of incremental modes;
        #: always None on a retry run, whose records are asked for whether or not they changed since
        self.since = since if only_keys is None else None
        #: the plugin configuration's secrets as durable state (rotating OAuth tokens), see ``ConnectionState``
        self.connection_state = connection_state
        self._catch_up = catch_up

    @property
    def run_id(self) -> int:
        return self._claim.run_id

    @property
    def attempt(self) -> int:
        return self._claim.attempt

    def wants(self, key: Any) -> bool:
        """Whether this run processes the record named ``key``: always, unless it is a retry run
        that did not ask for it (imports filter what they read with it)."""
        return self.only_keys is None or str(key)[:320] in self.only_keys

    def progress(self, done: int, total: int | None = None) -> None:
        self._progress = (done, total if total is not None else self._progress[1])

    def record(self, key: Any, outcome: str, code: str | None = None, message: str | None = None,
               stage: str | None = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.counters[outcome] += 1
        if outcome in ("failed", "skipped"):  # the problems view; successes are counted only
            self._pending_records.append(RunRecord(run_id=self.run_id, record_key=str(key)[:320], outcome=outcome,
                                                   stage=stage, code=code, message=message))

    def cancelled(self) -> bool:
        """Whether a user asked this run to stop (read at most once a second)."""
        if self._cancel_seen:
            return True
        now = time.monotonic()
        if now - self._cancel_checked_at >= 1.0:
            self._cancel_checked_at = now
            if self._session.in_transaction():
                self._cancel_seen = runs.is_cancel_requested(self._session, self.run_id)
            else:
                with self._factory() as s:
                    self._cancel_seen = runs.is_cancel_requested(s, self.run_id)
        return self._cancel_seen

    def http(self) -> requests.Session:
        if self._http is None:
            self._http = TimeoutSession()
        return self._http

    def catch_up(self, since: datetime | None = None):
        """Event-triggered jobs: plan the status-change events this job missed since ``since``
        (default: its last successful run, else its submission) — the dispatcher sends them —
        and return a ``CatchUp`` (``planned``, ``states`` by count, ``problems`` to show). Saved
        with the run's next commit (``checkpoint.save``, or the run's end)."""
        if self._catch_up is None:
            raise RuntimeError("this context has no delivery ledger to catch up on")
        return self._catch_up(since if since is not None else self.since)

    # -- core side ---------------------------------------------------------------------------
    def commit(self, **final: Any) -> None:
        """Write records, counters, progress, log and checkpoint with the store's changes, fenced
        on still owning the run; raises ``LeaseLost`` (and rolls back) if another worker took over."""
        s = self._session
        log_lines = (self._log_lines + self._pending_log)[-self.MAX_LOG_LINES:]
        values = {"counters": dict(self.counters), "progress_done": self._progress[0],
                  "progress_total": self._progress[1], "checkpoint": self.checkpoint.load(),
                  "log": log_lines, **final}
        if self._pending_records:
            s.add_all(self._pending_records)
        if self.ledger is not None:
            self.ledger.flush()
        res = s.execute(update(JobRun).where(*runs.owned(self._claim)).values(**values)
                        .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            self.discard()
            raise LeaseLost(f"run {self.run_id} attempt {self.attempt} is no longer owned by {self._claim.worker}")
        s.commit()
        self._log_lines, self._pending_records, self._pending_log = log_lines, [], []
        self._committed = (Counter(self.counters), self._progress, self.checkpoint.load())

    def discard(self) -> None:
        """Roll back what was done since the last commit, counters included; keep log lines."""
        self._session.rollback()
        counters, self._progress, state = self._committed
        self.counters = Counter(counters)
        self.checkpoint._state = state
        self._pending_records = []
        if self.ledger is not None:
            self.ledger.discard()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self._session.close()
