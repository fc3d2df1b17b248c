"""What a consumer does with messages it cannot act on because its database is away.

An outage is not the message's fault, so it must not count toward the queue's delivery limit
(RabbitMQ counts every requeue, and every delivery returned by a closed channel, against a
quorum queue's ``x-delivery-limit``; five of them dead-letter a valid message). The worker and
the event dispatcher therefore:

* keep such messages unacknowledged (``Holding``) and stop consuming, so nothing else arrives
  while they wait;
* try again after a backoff that grows to ``MAX_BACKOFF`` while the database stays away;
* and, should the outage outlast ``HOLD_LIMIT`` (well inside RabbitMQ's 30-minute consumer
  timeout, which would close the channel and count a delivery), publish a fresh copy of each
  held message to where it came from and only then acknowledge the original (``republish``):
  the copy starts with a delivery count of zero, so an outage of any length loses nothing and
  dead-letters nothing.

A message that fails by itself (malformed, or a statement the database refuses for that
message alone) is never held: it is dead-lettered alone, with the reason.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from kombu.message import Message

from .transport import publish_copy

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
#: How long messages are held before they are republished (RabbitMQ's consumer timeout: 30 min).
HOLD_LIMIT = 300.0


@dataclass
class Holding:
    """Messages held through an outage, and when to try them again."""

    limit: float = HOLD_LIMIT
    max_backoff: float = MAX_BACKOFF
    clock: Callable[[], float] = time.monotonic
    messages: list[Message] = field(default_factory=list)
    since: float | None = None  # when the outage was first met; None while the database answers
    retry_at: float = 0.0
    backoff: float = FIRST_BACKOFF

    def __bool__(self) -> bool:
        return bool(self.messages)

    def hold(self, messages: list[Message]) -> None:
        """Keep ``messages`` (added to any already held) and schedule the next try."""
        now = self.clock()
        if self.since is None:
            self.since, self.backoff = now, min(FIRST_BACKOFF, self.max_backoff)
        else:
            self.backoff = min(self.backoff * 2, self.max_backoff)
        self.messages.extend(messages)
        self.retry_at = now + self.backoff

    def due(self) -> bool:
        return bool(self.messages) and self.clock() >= self.retry_at

    def overdue(self) -> bool:
        return bool(self.messages) and self.since is not None and self.clock() - self.since >= self.limit

    def take(self) -> list[Message]:
        """The held messages, to try again: ``hold`` them again if the database is still away
        (the backoff keeps growing), ``clear`` once a try succeeds."""
        taken, self.messages = self.messages, []
        return taken

    def clear(self) -> None:
        """The database answered: the next outage starts from the first backoff."""
        self.since, self.backoff = None, FIRST_BACKOFF


def republish(channel, message: Message) -> None:
    """A fresh copy of ``message`` to the exchange and routing key it was delivered from, then
    the original acknowledged (at least once: a crash in between leaves both, and consumers
    deduplicate by message id)."""
    info = message.delivery_info
    publish_copy(channel, message, exchange=info.get("exchange", ""), routing_key=info.get("routing_key", ""))
    message.ack()


def republish_all(channel, messages: list[Message], who: str) -> None:
    log.warning("%s: the database has been away for a long time; %d held message(s) republished so that the "
                "wait does not count toward the delivery limit", who, len(messages))
    for message in messages:
        republish(channel, message)
