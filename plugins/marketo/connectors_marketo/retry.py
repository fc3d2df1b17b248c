"""How often to retry and how long to wait between attempts: exponential backoff with jitter."""
from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import SYSTEM_ERROR_CODE


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries. ``delay(attempt)`` grows as base * 2**(attempt-1) up to ``max_delay``,
    with "equal jitter" (half fixed, half random) so parallel clients — and the ones that all
    got 615 at once — do not retry in lockstep. 611 is an unhandled Marketo error that seldom
    heals, so it gets fewer attempts."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    system_error_attempts: int = 3

    def delay(self, attempt: int, rng: random.Random) -> float:
        capped = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return capped / 2 + rng.uniform(0, capped / 2)

    def gives_up(self, attempt: int, code: str, times_seen: int) -> bool:
        """After the ``attempt``-th attempt failed with ``code`` (seen ``times_seen`` times in
        this request so far): stop here?"""
        if attempt >= self.max_attempts:
            return True
        return code == SYSTEM_ERROR_CODE and times_seen >= self.system_error_attempts
