"""One HTTP call with Eloqua's transient failures handled: 429, 5xx and lost connections are
retried with backoff (``Retry-After`` honoured) — unless the call must not run twice and may
already have run, in which case it stops with ``EloquaAmbiguousError`` for the caller to check.

A 429 is safe to repeat (Eloqua refused it before doing anything); a 5xx, a read timeout or a
connection dropped after the request went out are not. A call that never left (connection
refused, connect timeout) is always safe to repeat.
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable

import requests
from urllib3.exceptions import NewConnectionError

from .errors import EloquaAmbiguousError, EloquaRateLimited, EloquaTransientError
from .retry import RETRY_STATUSES, RetryPolicy

#: (connect, read) seconds
DEFAULT_TIMEOUT = (10.0, 120.0)
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                  requests.exceptions.ContentDecodingError)


class Transport:
    def __init__(self, session: requests.Session | None = None, *, timeout: Any = DEFAULT_TIMEOUT,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self.rng = rng or random.Random()

    def send(self, method: str, url: str, *, idempotent: bool, **kwargs: Any) -> requests.Response:
        """The first answer that is not a transient failure (any status, 401 and 4xx included)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except NETWORK_ERRORS as exc:
                sent = not never_sent(exc)
                if sent and not idempotent:
                    raise EloquaAmbiguousError(f"{method} {url}: {type(exc).__name__} after the request was sent; "
                                               "Eloqua may have carried it out", url=url) from exc
                if attempt >= self.retry.max_attempts:
                    raise EloquaTransientError(f"{method} {url}: no answer after {attempt} attempts: {exc}",
                                               url=url) from exc
                self.sleep(self.retry.delay(attempt, self.rng))
                continue
            status = response.status_code
            if status not in RETRY_STATUSES:
                return response
            if status != 429 and not idempotent:
                raise EloquaAmbiguousError(f"{method} {url}: HTTP {status} ({_text(response)}); Eloqua may have "
                                           "carried it out", status=status, body=_text(response), url=url)
            if attempt >= self.retry.max_attempts:
                error = EloquaRateLimited if status == 429 else EloquaTransientError
                raise error(f"{method} {url}: HTTP {status} ({_text(response)}) after {attempt} attempts",
                            status=status, body=_text(response), url=url)
            self.sleep(self.retry.delay(attempt, self.rng, response.headers.get("Retry-After")))


def never_sent(exc: Exception) -> bool:
    """True when no connection was made, so Eloqua never saw the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _text(response: requests.Response) -> str:
    return (response.text or "").strip()[:200]
