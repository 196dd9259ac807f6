"""The composition root of a worker process: threads, their dependencies, start and stop.

Threads (each with its own database connection, as Django gives one per thread):
- consumer   (when AMQP_URL is set): queue → `schedule_events`, acks after commit;
- listener   (on PostgreSQL): NOTIFY from other processes → wakes the batcher;
- batcher    sleeps until the earliest due notification, then runs one pass; in its idle
             time it renders ahead the messages of notifications soon due;
- sender     sleeps until the earliest deliverable email, then delivers;
- heartbeat  every few seconds: records that this process lives, and looks at the earliest
             due work so that work created by other processes is found even without NOTIFY.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import InterfaceError, OperationalError, close_old_connections, connection

from missedmail.clock import Clock
from missedmail.composing.batch import CompositionOptions
from missedmail.conf import Settings
from missedmail.events import EventError
from missedmail.health import heartbeats, metrics
from missedmail.outbox import sender as outbox_sender
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.retry import RetryPolicy
from missedmail.outbox.transports import SmtpTransport, Transport
from missedmail.queue.consumer import ConsumerConfig, QueueConsumer
from missedmail.scheduling import wakeups
from missedmail.scheduling.emailed import forget_emailed
from missedmail.scheduling.ingest import (
    MAX_PAYLOAD_CHARS,
    IngestResult,
    RawEvent,
    raw_event_from_body,
    schedule_events,
)
from missedmail.scheduling.models import EventSource
from missedmail.worker.batching import (
    BatcherConfig,
    PassResult,
    earliest_pending_query,
    send_due_batches,
)
from missedmail.worker.listener import DueListener
from missedmail.worker.loop import WakeableLoop
from missedmail.worker.render_ahead import RenderAhead

logger = logging.getLogger(__name__)

# The database is away: a batch that fails so is retried whole, later.
UNREACHABLE_ERRORS = (OperationalError, InterfaceError)
# How often the heartbeat prunes the emailed ledger (scheduling/emailed.py); its retention
# is days, so once an hour keeps it bounded at the cost of one query an hour.
FORGET_EMAILED_EVERY = timedelta(hours=1)
# Backpressure: while a drain lasts (a pass left due rows behind), the batcher composes no
# further ahead of the senders than this many rounds of ready emails per sender. Composing
# faster than sending gains nothing but a longer outbox queue, and an email queued behind it
# waits for all of it: measured in the backlog benchmark once composing had become faster
# than sending, a batch that fell due mid-drain was composed within 0.1 s and then waited
# 2.0 s in the outbox. Over the cap, the batcher looks again after BACKPRESSURE_POLL.
ROUNDS_AHEAD_PER_SENDER = 2
BACKPRESSURE_POLL = timedelta(milliseconds=50)


@dataclass(frozen=True)
class WorkerOptions:
    consume_queue: bool = True
    queue_name: str = "missedmessage_emails"
    heartbeat_seconds: float = 10.0
    sender_batch: int = 50
    sender_lease_seconds: float = 300.0
    # SMTP connections, one sender thread each. A send is mostly waiting for the server's
    # reply, so a few connections overlap those waits (docs/performance.md). Transports
    # other than SMTP (files, memory) keep one sender.
    sender_connections: int = 4
    # Rows one batcher pass may claim, and the seconds after which it stops composing and
    # commits (worker/batching.py): short passes hand emails to the senders early and let
    # a batch that falls due during a backlog in at the next pass.
    max_rows_per_pass: int = 300
    pass_budget_seconds: float = 1.0


def _fresh_connection(
    step: Callable[[datetime], datetime | None],
) -> Callable[[datetime], datetime | None]:
    """Before each step, drop a connection that died (database restarted) or aged out."""

    def wrapped(now: datetime) -> datetime | None:
        close_old_connections()
        return step(now)

    return wrapped


def _drop_connection(_error: BaseException) -> None:
    # After an error the connection may be broken or mid-transaction; the next step
    # reconnects. Called on the loop's own thread, so it closes that thread's connection.
    connection.close()


def _close_connection() -> None:
    # A loop's thread ends: its connection would otherwise stay open until the process
    # ends (a worker stopped and started again in one process, as tests do, leaks one
    # session per thread).
    connection.close()


def unstorable_event(body: bytes, error: Exception) -> RawEvent:
    """A body the database refused even on its own: recorded as a rejected event, its text
    escaped (whatever it holds must not fail the record too)."""
    text = body[:MAX_PAYLOAD_CHARS].decode("utf-8", "replace")
    escaped = text.encode("unicode_escape").decode("ascii")[:MAX_PAYLOAD_CHARS]
    reason = f"event: could not be stored ({type(error).__name__})"
    return RawEvent(escaped, error=EventError(reason))


class WorkerService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        transport: Transport,
        options: WorkerOptions | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.transport = transport
        delivery = settings.delivery
        self.options = options or WorkerOptions(sender_lease_seconds=delivery.lease_seconds)
        self.name = heartbeats.worker_name()
        self.batcher_config = BatcherConfig(
            composition=CompositionOptions(reply_by_email=bool(settings.email_gateway_pattern)),
            outbox=OutboxConfig.from_settings(settings),
            staging=settings.staging,
            max_rows_per_pass=self.options.max_rows_per_pass,
            pass_budget_seconds=self.options.pass_budget_seconds,
        )
        self.retry_policy = RetryPolicy(
            base_delay_seconds=delivery.retry_base_seconds,
            max_delay_seconds=delivery.retry_max_seconds,
            max_attempts=delivery.retry_attempts,
        )
        self._stop = threading.Event()
        self.batcher = WakeableLoop(
            "batcher",
            _fresh_connection(self._batch_step),
            clock,
            on_error=_drop_connection,
            on_exit=_close_connection,
        )
        self.transports = _sender_transports(transport, settings, self.options.sender_connections)
        self.senders = [
            WakeableLoop(
                f"sender{n}" if n else "sender",
                _fresh_connection(self._send_step_with(each)),
                clock,
                on_error=_drop_connection,
                on_exit=_close_connection,
            )
            for n, each in enumerate(self.transports)
        ]
        self.sender = self.senders[0]
        self.heartbeat = WakeableLoop(
            "heartbeat",
            _fresh_connection(self._heartbeat_step),
            clock,
            max_wait_seconds=self.options.heartbeat_seconds,
            on_error=_drop_connection,
            on_exit=_close_connection,
        )
        self._threads: list[threading.Thread] = []
        self._connections = 0
        self.last_batch_at: datetime | None = None  # the last pass that claimed anything
        self._draining = False  # the last pass left due rows behind (see _batch_step)
        ahead = settings.render_ahead_seconds
        self.render_ahead = RenderAhead(timedelta(seconds=ahead)) if ahead > 0 else None
        self.emailed_forgotten_at = datetime.min.replace(tzinfo=UTC)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        wakeups.subscribe(self.batcher.wake)
        now = self.clock.now()
        heartbeats.register(self.name, "worker", now)
        heartbeats.forget_stopped(now)  # rows of processes that stopped long ago
        self._forget_emailed(now)
        self.batcher.start()
        for sender in self.senders:
            sender.start()
        self.heartbeat.start()
        if self.options.consume_queue and self.settings.amqp_url:
            consumer = QueueConsumer(
                ConsumerConfig(url=self.settings.amqp_url, queue=self.options.queue_name),
                self.handle_queue_batch,
                self._stop,
                on_connected=self._on_broker_connected,
            )
            self._spawn("consumer", consumer.run)
        if connection.vendor == "postgresql":
            self._spawn("listener", DueListener(self.batcher.wake, self._stop).run)
        logger.info(
            "action=worker_started name=%s queue=%s staging=%s",
            self.name,
            bool(self.settings.amqp_url and self.options.consume_queue),
            self.settings.staging,
        )

    def stop(self) -> None:
        """Stop every thread and wait for them; safe to call twice."""
        self._stop.set()
        wakeups.unsubscribe(self.batcher.wake)
        for thread in self._threads:
            thread.join()
        for loop in (self.batcher, *self.senders, self.heartbeat):
            loop.stop()
        try:
            close_old_connections()  # it may predate a database restart
            heartbeats.mark_stopped(self.name, self.clock.now())
        except Exception:  # the database may be the reason we stop; the heartbeat expires anyway
            logger.warning("action=heartbeat_stop_failed name=%s", self.name)
        finally:
            connection.close()
        for transport in dict.fromkeys(self.transports):
            transport.close()
        logger.info("action=worker_stopped name=%s", self.name)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def run() -> None:
            try:
                target()
            finally:
                connection.close()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- steps -----------------------------------------------------------------------------

    def handle_queue_batch(self, bodies: list[bytes]) -> None:
        """The consumer's callback: store a batch of events; raising makes it nack them."""
        close_old_connections()
        try:
            result = self._store(bodies)
        except UNREACHABLE_ERRORS:
            connection.close()
            raise  # nacked, and retried once the database is back
        except Exception as error:
            # Not the database being away, so something in the batch: store its bodies one
            # by one, recording any that still fails as rejected, so that no poison message
            # can hold the queue (docs/reliability.md).
            connection.close()
            logger.warning(
                "action=batch_isolated count=%d error=%s", len(bodies), type(error).__name__
            )
            result = self._store_one_by_one(bodies)
        wakeups.announce_due(result.earliest_new_due)

    def _on_broker_connected(self) -> None:
        self._connections += 1
        if self._connections > 1:
            metrics.BROKER_RECONNECTS.inc()

    def _store(self, bodies: list[bytes]) -> IngestResult:
        return schedule_events(
            [raw_event_from_body(body) for body in bodies],
            source=EventSource.QUEUE,
            now=self.clock.now(),
        )

    def _store_one_by_one(self, bodies: list[bytes]) -> IngestResult:
        merged = IngestResult()
        for body in bodies:
            try:
                result = self._store([body])
            except UNREACHABLE_ERRORS:
                connection.close()
                raise
            except Exception as error:
                connection.close()
                logger.error(
                    "action=event_unstorable bytes=%d error=%s", len(body), type(error).__name__
                )
                result = schedule_events(
                    [unstorable_event(body, error)],
                    source=EventSource.QUEUE,
                    now=self.clock.now(),
                )
            merged.outcomes += result.outcomes
            due, earliest = result.earliest_new_due, merged.earliest_new_due
            if due is not None and (earliest is None or due < earliest):
                merged.earliest_new_due = due
        return merged

    def _batch_step(self, now: datetime) -> datetime | None:
        if self._draining and self._senders_behind(now):
            return now + BACKPRESSURE_POLL
        result = send_due_batches(now, self.batcher_config)
        self._draining = result.more_due
        if result.claimed_rows:
            self.last_batch_at = now
        if result.emails:
            # As many senders as there are full rounds of work; each one that finds a full
            # round goes on by itself.
            wanted = -(-result.emails // self.options.sender_batch)
            for sender in self.senders[:wanted]:
                sender.wake()
        return self._render_ahead(now, result)

    def _render_ahead(self, now: datetime, result: PassResult) -> datetime | None:
        """A slice of rendering ahead when the pass left nothing due (worker/render_ahead.py):
        the earlier of the next pass and the next slice."""
        pending = result.earliest_pending
        if self.render_ahead is None or pending is None or pending <= now:
            return result.next_due  # nothing pending, or due rows another worker holds
        again = self.render_ahead.step(now, pending)
        return again if result.next_due is None else min(again, result.next_due)

    def _senders_behind(self, now: datetime) -> bool:
        cap = ROUNDS_AHEAD_PER_SENDER * self.options.sender_batch * len(self.senders)
        return outbox_sender.ready_backlog(now, cap) >= cap

    def _send_step_with(self, transport: Transport) -> Callable[[datetime], datetime | None]:
        def step(now: datetime) -> datetime | None:
            return self._send_step(now, transport)

        return step

    def _send_step(self, now: datetime, transport: Transport) -> datetime | None:
        report = outbox_sender.send_once(
            now,
            transport,
            limit=self.options.sender_batch,
            lease_seconds=self.options.sender_lease_seconds,
            owner=self.name,
            policy=self.retry_policy,
            clock=self.clock,
        )
        metrics.observe_deliveries(report.outcomes)
        if report.claimed >= self.options.sender_batch:
            return now  # a full round: more may be ready
        return outbox_sender.next_wake_at()

    def _forget_emailed(self, now: datetime) -> None:
        self.emailed_forgotten_at = now
        if forgotten := forget_emailed(now):
            logger.info("action=emailed_ledger_pruned rows=%d", forgotten)

    def _heartbeat_step(self, now: datetime) -> datetime | None:
        composed, sent = metrics.process_totals()
        # Work created by other processes (the web process, `missedmail enqueue`, a worker
        # that died) is found here even when no NOTIFY reached us: the earliest pending
        # notification and the outbox's wake-up times are read with the beat, in the same
        # statement on PostgreSQL: an idle worker's queries are its beats.
        pending = earliest_pending_query()
        due, *outbox_times = heartbeats.beat(
            self.name,
            "worker",
            now,
            emails_composed=composed,
            emails_sent=sent,
            last_batch_at=self.last_batch_at,
            reading=(pending, *outbox_sender.wake_time_queries()),
        )
        if now - self.emailed_forgotten_at >= FORGET_EMAILED_EVERY:
            self._forget_emailed(now)
        if due is not None:
            self.batcher.wake(due)
        if (ready := outbox_sender.earliest(*outbox_times)) is not None:
            for sender in self.senders:
                sender.wake(ready)
        return None


def _sender_transports(
    transport: Transport, settings: Settings, connections: int
) -> list[Transport]:
    """One transport per sender thread: the given one, plus more SMTP connections to the
    same server. Other transports are not connections; one sender serves them."""
    if not isinstance(transport, SmtpTransport) or connections <= 1:
        return [transport]
    return [transport, *(transport.another_connection() for _ in range(connections - 1))]
