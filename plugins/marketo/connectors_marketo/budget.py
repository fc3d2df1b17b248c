"""The daily-budget guard: stop cleanly before the subscription's daily API quota runs out.

Marketo's 50,000 calls a day (sometimes 10,000) are shared by every integration of the
subscription and reset at midnight US Central. Hitting the quota (607) breaks every other
integration until then, so we stop earlier: at ``limit`` calls (default 80% of 50k, like
tap-marketo). Today's usage is read from ``stats/usage.json`` when the guard starts and again
every ``check_every`` calls; in between we add our own calls to the last reading.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from .errors import BUDGET_CODE, MarketoAuthError, MarketoError, MarketoQuotaExhausted

DEFAULT_DAILY_BUDGET = 40_000
DEFAULT_CHECK_EVERY = 250

log = logging.getLogger(__name__)


class DailyBudget:
    """``before_call()`` before every REST call; raises ``MarketoQuotaExhausted`` instead of
    letting the call go out when the budget is spent or Marketo already said 607."""

    def __init__(self, limit: int, read_usage: Callable[[], int], check_every: int = DEFAULT_CHECK_EVERY):
        if limit < 1 or check_every < 1:
            raise ValueError("limit and check_every must be at least 1")
        self.limit = limit
        self.check_every = check_every
        self._read_usage = read_usage
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._last_reading: int | None = None
        self._since_reading = 0
        self._exhausted: MarketoQuotaExhausted | None = None

    @property
    def estimate(self) -> int | None:
        """Today's usage as far as we know (last reading plus our calls since), None before the
        first reading."""
        with self._lock:
            return None if self._last_reading is None else self._last_reading + self._since_reading

    def before_call(self) -> None:
        if self._exhausted is not None:
            raise self._exhausted
        if self._reading_due():
            self._refresh()
        with self._lock:
            used = (self._last_reading or 0) + self._since_reading
            if used >= self.limit:
                self._exhausted = MarketoQuotaExhausted(
                    BUDGET_CODE, f"daily API budget of {self.limit} calls reached ({used} used today); "
                                 "the rest of today's quota is left to other integrations")
                raise self._exhausted
            self._since_reading += 1

    def quota_reached(self, error: MarketoQuotaExhausted) -> None:
        """Marketo answered 607: no further call today through this guard."""
        self._exhausted = error

    def _reading_due(self) -> bool:
        with self._lock:
            return self._last_reading is None or self._since_reading >= self.check_every

    def _refresh(self) -> None:
        with self._refresh_lock:
            if not self._reading_due():  # another thread read it meanwhile
                return
            try:
                usage = int(self._read_usage())
            except MarketoQuotaExhausted as exc:
                self._exhausted = exc
                raise
            except MarketoAuthError:
                raise
            except MarketoError as exc:
                # Unreadable stats (e.g. a permission the API user lacks) must not stop the job:
                # go on counting our own calls and try again at the next check.
                log.warning("could not read Marketo's daily usage (%s); counting our own calls", exc)
                with self._lock:
                    self._last_reading = (self._last_reading or 0) + self._since_reading
                    self._since_reading = 0
                return
            with self._lock:
                self._last_reading, self._since_reading = usage, 0
