"""Creates that must not happen twice (spec §4, §8): Eloqua has no idempotency keys, so after a
create failed in a way that leaves open whether it happened (timeout, reset, 5xx after sending),
look for the record by its natural key first, and send the create again only if it is not there."""
from __future__ import annotations

from typing import Any, Callable

from .errors import EloquaAmbiguousError, EloquaError


def create_checked(client: Any, create: Callable[[], Any], find: Callable[[], Any]) -> Any:
    """``create()``; after an ``EloquaAmbiguousError``, ``find()`` (None: not there) decides
    between returning what was made and trying again, within the retry policy's attempts."""
    attempts = client.transport.retry.max_attempts
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except EloquaAmbiguousError as exc:
            try:
                found = find()
            except EloquaError as failed:  # the outcome stays unknown: say so, do not resend
                raise EloquaAmbiguousError(f"{exc.message}; checking whether it happened failed too: {failed}",
                                           status=exc.status, body=exc.body, url=exc.url) from failed
            if found is not None:
                return found
            if attempt == attempts:
                raise EloquaAmbiguousError(f"{exc.message}; not found afterwards; gave up after {attempt} attempts",
                                           status=exc.status, body=exc.body, url=exc.url) from exc
            client.sleep(client.transport.retry.delay(attempt, client.rng))
    raise AssertionError("unreachable")  # pragma: no cover
