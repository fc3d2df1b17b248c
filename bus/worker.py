"""The worker: consume run commands, claim, ack, execute in a slot.

A delivery is held only for the few milliseconds of the claim (a compare-and-set on the run
row), never for the length of a job: RabbitMQ's consumer timeout and missed heartbeats would
otherwise kill long runs. After the ack the database owns the run's fate: the lease says who
runs it, and the reaper re-queues it if that worker dies.

Flow control: the worker consumes only while a slot is free, with a prefetch of one. When a
claim fills the last slot the consumer is cancelled *before* that message is acked, so the
broker cannot have pushed another one meanwhile; when a slot frees up, consuming resumes. The
main loop drains the connection with a timeout, so heartbeats are serviced even while idle or
full.

Failures: a command that does not fit the envelope schema, or whose claim the database refuses
for that command alone (``connectors.db.unavailable`` tells the two apart), is dead-lettered
with the reason and the worker goes on. While the database is away the command is held
unacknowledged and consuming stops until a retry succeeds (``holding``): an outage never
counts toward the queue's delivery limit.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from types import SimpleNamespace
from datetime import timedelta
from typing import TYPE_CHECKING

from kombu import Connection, Consumer
from kombu.message import Message

from connectors import db, plugin_tasks
from connectors.jobs import runs
from connectors.jobs.execute import execute_run
from connectors.jobs.runs import Claim

from .dead_letters import send_to_dead_letters
from .holding import Holding, republish_all
from .messages import MalformedMessage, PluginTaskRequested, RunRequested, parse_command
from .slots import Slots
from .topology import Topology
from .transport import connect, errors_of, release

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session, sessionmaker

    from connectors.plugins import PluginManager
    from connectors.secrets import SecretBox
    from connectors.services import Services

log = logging.getLogger(__name__)

#: A claim takes milliseconds and is followed by the ack, so a larger prefetch would only hide
#: commands from idle workers; one is also what makes "cancel before ack" race-free.
PREFETCH = 1


#: what a worker built without ``Services`` falls back to (the embedded defaults)
_DEFAULTS = SimpleNamespace(broker_url="memory://", bus_namespace="connectors", worker_concurrency=2, lease_seconds=30)


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Executes runs from the runs queue, ``concurrency`` at a time; also reaps expired leases.

    Build it from ``Services`` (settings give the defaults) or from ``factory``/``registry``/``box``.
    """

    def __init__(self, services: "Services | None" = None, *, factory: "sessionmaker[Session] | None" = None,
                 registry: "PluginManager | None" = None, box: "SecretBox | None" = None,
                 broker_url: str | None = None, namespace: str | None = None, concurrency: int | None = None,
                 lease_seconds: int | None = None, name: str | None = None, reap_interval: float = 5.0,
                 poll_interval: float = 0.5, heartbeat: float = 30, grace_seconds: float = 30.0,
                 holding: Holding | None = None):
        self.factory, self.registry, self.box = (
            factory or getattr(services, "factory", None), registry or getattr(services, "registry", None),
            box or getattr(services, "box", None))
        if self.factory is None or self.registry is None or self.box is None:
            raise TypeError("Worker needs services, or factory, registry and box")
        settings = getattr(services, "settings", None) or _DEFAULTS
        self.broker_url = broker_url or settings.broker_url
        self.namespace = namespace or settings.bus_namespace
        self.concurrency = concurrency or settings.worker_concurrency
        self.lease_seconds = lease_seconds or settings.lease_seconds
        self.name = name or default_worker_name()
        self.reap_interval, self.poll_interval, self.heartbeat = reap_interval, poll_interval, heartbeat
        self.grace_seconds = grace_seconds
        self.topology = Topology.for_url(self.broker_url, self.namespace)
        self.slots = Slots(self.concurrency, name=f"run@{self.name}")
        self._stop = threading.Event()
        self._inbox: deque[Message] = deque()
        self._consumer: Consumer | None = None
        self._consuming = False
        #: a command whose claim waits for the database to come back
        self._holding = holding if holding is not None else Holding()
        self._next_reap = 0.0
        self.connected = threading.Event()  # set while consuming is possible (tests and health checks)
        self.connection: Connection | None = None  # the current one, for inspection only

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self, stop_event: threading.Event | None = None) -> None:
        """Serve until ``stop_event`` (or ``stop()``) is set, reconnecting whenever the bus is lost;
        then wait up to ``grace_seconds`` for in-flight runs and abandon the rest."""
        if stop_event is not None:
            self._stop = stop_event
        log.info("worker %s: %d slot(s), lease %ss, queue %s on %s", self.name, self.concurrency,
                 self.lease_seconds, self.topology.runs_queue.name, self.broker_url.split("@")[-1])
        backoff = 1.0
        while not self._stop.is_set():
            connection = self.connection = connect(self.broker_url, heartbeat=self.heartbeat, confirm_publish=True)
            try:
                connection.ensure_connection(max_retries=3, interval_start=0.5, interval_step=0.5,
                                             interval_max=2, errback=self._connect_failed)
                backoff = 1.0
                self._serve(connection)
            except errors_of(connection) as exc:
                log.warning("worker %s: bus connection lost (%s); reconnecting in %.0fs", self.name, exc, backoff)
            except Exception:  # noqa: BLE001 - a worker process must outlive its own bugs
                log.exception("worker %s: consumer loop failed; restarting in %.0fs", self.name, backoff)
            finally:
                self.connected.clear()
                self._abandon_inbox()
                self._consumer, self._consuming = None, False
                release(connection)
            if not self._stop.is_set():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self._drain_slots()

    def stop(self) -> None:
        """Ask ``run()`` to return (by setting the stop event in use): no new runs are taken;
        in-flight ones get ``grace_seconds``."""
        self._stop.set()

    def _connect_failed(self, exc: Exception, interval: float) -> None:
        log.warning("worker %s: cannot reach the bus (%s); retrying in %.1fs", self.name, exc, interval)

    def _drain_slots(self) -> None:
        if not self.slots.busy():
            return
        log.info("worker %s stopping: waiting up to %.0fs for runs %s", self.name, self.grace_seconds, self.slots.busy())
        left = self.slots.join(self.grace_seconds)
        if left:
            log.warning("worker %s: abandoning runs %s; their leases expire within %ss and another worker resumes them "
                        "from their checkpoints", self.name, left, self.lease_seconds)

    # -- the consumer loop -----------------------------------------------------------------------
    def _serve(self, connection: Connection) -> None:
        channel = connection.channel()
        self.topology.declare(channel)
        self._consumer = Consumer(channel, queues=[self.topology.runs_queue], on_message=self._inbox.append,
                                  accept=["json"], auto_declare=False)
        self._consumer.qos(prefetch_count=PREFETCH)
        self.connected.set()
        while not self._stop.is_set():
            self._reap_when_due()
            if self._holding.overdue():
                republish_all(channel, self._holding.take(), f"worker {self.name}")
                self._holding.clear()
            elif self._holding.due():
                for message in self._holding.take():
                    self._handle(message)
            self._set_consuming(self.slots.free() > 0 and not self._holding)
            try:
                connection.drain_events(timeout=self.poll_interval)
            except socket.timeout:
                pass
            connection.heartbeat_check()
            while self._inbox:
                self._handle(self._inbox.popleft())
        self._set_consuming(False)

    def _set_consuming(self, wanted: bool) -> None:
        if wanted and not self._consuming:
            self._consumer.consume()
        elif not wanted and self._consuming:
            self._consumer.cancel()
        self._consuming = wanted

    def _handle(self, message: Message) -> None:
        """Claim, then ack: a duplicate or stale command finds nothing to claim and is dropped."""
        try:
            command = parse_command(message.decode())
        except Exception as exc:  # noqa: BLE001 - undecodable, disallowed content type, wrong shape or bounds
            reason = exc if isinstance(exc, MalformedMessage) else f"{type(exc).__name__}: {exc}"
            self._dead_letter(message, f"malformed: {reason}")
            return
        if isinstance(command, PluginTaskRequested):
            self._start_plugin_task(message, command)
            return
        self._claim_and_start(message, command)

    def _dead_letter(self, message: Message, reason: str) -> None:
        """This message alone goes to the dead letters, with the reason; the others go on."""
        log.error("worker %s: message %s dead-lettered: %s", self.name, message.properties.get("message_id"), reason)
        send_to_dead_letters(message.channel, self.topology, message, reason=reason, queue=self.topology.runs_queue.name)

    def _start_plugin_task(self, message: Message, command: PluginTaskRequested) -> None:
        """A "Test connection" or field discovery: claimed, acked, then run in a slot like a run.
        If the database is down the command is dropped; the page shows the task unanswered and
        the user asks again."""
        try:
            claimed = plugin_tasks.claim(self.factory, command.task_id, self.name)
        except Exception as exc:  # noqa: BLE001
            if not db.unavailable(exc):
                self._dead_letter(message, f"claiming plugin task {command.task_id} failed: {exc}")
                return
            log.exception("worker %s: cannot claim plugin task %s; dropped", self.name, command.task_id)
            claimed = False
        if claimed:
            self.slots.start(("plugin-task", command.task_id), lambda: plugin_tasks.execute(
                self.factory, self.registry, self.box, command.task_id))
            if self.slots.free() == 0:
                self._set_consuming(False)
        message.ack()

    def _claim_and_start(self, message: Message, command: RunRequested) -> None:
        try:
            claim = runs.claim(self.factory, command.run_id, self.name, self.lease_seconds, attempt=command.attempt)
        except Exception as exc:  # noqa: BLE001
            if not db.unavailable(exc):  # this command's own failure: it must not stop the others
                self._dead_letter(message, f"claiming run {command.run_id} failed: {type(exc).__name__}: {exc}")
                return
            # Held rather than requeued: a requeue counts toward the queue's delivery limit.
            self._holding.hold([message])
            log.warning("worker %s: the database is unavailable (%s); run %s waits, retry in %.1fs", self.name,
                        str(exc).splitlines()[0], command.run_id, self._holding.backoff)
            self._set_consuming(False)
            return
        self._holding.clear()
        if claim is None:
            log.info("worker %s: run %s attempt %s is not queued (duplicate or stale command %s); dropped",
                     self.name, command.run_id, command.attempt, command.message_id)
            message.ack()
            return
        self.slots.start(claim.run_id, lambda: self._execute(claim))
        if self.slots.free() == 0:
            self._set_consuming(False)  # before the ack: no other command can be on its way to us
        message.ack()

    def _execute(self, claim: Claim) -> None:
        log.info("worker %s: run %s attempt %s started", self.name, claim.run_id, claim.attempt)
        try:
            status = execute_run(self.factory, self.registry, self.box, claim, self.lease_seconds)
        except Exception:  # noqa: BLE001 - e.g. the database went away while recording the end
            log.exception("worker %s: run %s attempt %s broke off; its lease will expire and it will be retried",
                          self.name, claim.run_id, claim.attempt)
            return
        log.info("worker %s: run %s attempt %s ended: %s", self.name, claim.run_id, claim.attempt, status)

    def _abandon_inbox(self) -> None:
        """Give back messages received but not handled (the loop broke off, or we are stopping)."""
        self._inbox.extend(self._holding.take())
        while self._inbox:
            message = self._inbox.popleft()
            try:
                message.requeue()
            except Exception:  # noqa: BLE001 - on AMQP a closed channel redelivers them anyway
                pass

    # -- the reaper ------------------------------------------------------------------------------
    def _reap_when_due(self) -> None:
        now = time.monotonic()
        if now < self._next_reap:
            return
        self._next_reap = now + self.reap_interval
        try:
            requeued = runs.reap_expired(self.factory)
            resent = runs.resend_lost_commands(self.factory, timedelta(seconds=max(60, 2 * self.lease_seconds)))
        except Exception:  # noqa: BLE001 - the next pass tries again
            log.exception("worker %s: reaping expired leases failed", self.name)
            return
        if requeued:
            log.warning("worker %s: re-queued runs whose worker stopped renewing its lease: %s", self.name, requeued)
        if resent:
            log.warning("worker %s: sent again the commands of runs queued too long: %s", self.name, resent)
