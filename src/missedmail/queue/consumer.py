"""Consuming `missedmessage_emails`: raw bodies in batches to a callback, acked once it returns.

Two threads, and what each may touch:
- the thread that calls `run()` owns the pika connection. pika's BlockingConnection is not
  thread-safe (only `add_callback_threadsafe` is), so every ack, nack and declare happens here;
- one batch thread runs the callback (which parses, validates and commits). While it works,
  the connection's thread keeps calling `process_data_events`, so heartbeats are answered
  however slow the database is. Rejected alternative: calling the callback inline, where a
  callback slower than the heartbeat timeout (30 s) gets the connection closed by the broker
  and its batch redelivered.

Delivery is at least once: a batch is acked only after its callback returned, i.e. after the
commit; a crash, a lost connection or a failing callback sends the same messages again, and
ingest collapses duplicates. A body that is not even JSON is still handed over: rejecting
and recording it is the callback's job, and acking whatever the callback accepted is what
keeps a poison message from looping. See docs/decisions/0005-queue-consumer.md.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from missedmail.queue.backoff import Backoff
from missedmail.queue.broker import (
    BROKER_ERRORS,
    QUEUE_NAME,
    close_quietly,
    connection_parameters,
    declare_queue,
)

logger = logging.getLogger(__name__)

# The longest one `process_data_events` call blocks: how late we may notice `stop`.
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class ConsumerConfig:
    url: str  # AMQP_URL; amqp:// or amqps://, query-string settings such as heartbeat win
    queue: str = QUEUE_NAME
    # Unacked messages the broker may push to us: two batches, so the next batch is already
    # here when one is acked. With one batch's worth, every ack was followed by a wait for
    # the broker to refill the window: 28% of a 10,000-event drain once ingest got cheap,
    # against 2% with two (in-process, same machine and run).
    prefetch: int = 1000
    batch_max: int = 500  # flush after this many bodies ...
    batch_wait_seconds: float = 0.05  # ... or this long after the first body of a batch
    # Backoff after a lost broker and after a failed batch: doubles from initial to max.
    reconnect_initial_seconds: float = 1.0
    reconnect_max_seconds: float = 30.0
    # How long a stop request waits for a running callback, so its committed batch is acked
    # rather than redelivered. Past it, run() returns and the batch is redelivered later.
    stop_grace_seconds: float = 5.0
    connection_name: str = "missedmail consumer"  # shown in the broker's connection list


class ConnectionLost(Exception):
    """The broker cancelled our consumer or closed our channel while the connection lived."""


# What ends a session and sends us back to reconnecting.
SESSION_ERRORS: tuple[type[BaseException], ...] = (*BROKER_ERRORS, ConnectionLost)


@dataclass(eq=False)
class _Job:
    bodies: list[bytes]
    last_delivery_tag: int
    on_done: Callable[[], None]
    finished: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class _BatchThread:
    """Runs the callback on one long-lived thread, one batch at a time.

    Long-lived rather than one thread per batch, so whatever the callback keeps per thread (a
    Django database connection) survives between batches. A daemon: a callback stuck on an
    unreachable database must not keep the process from exiting; its transaction then never
    commits and the broker redelivers its messages.
    """

    def __init__(self, handle_batch: Callable[[list[bytes]], None]) -> None:
        self._handle_batch = handle_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._work, name="missedmail-queue-batch", daemon=True
        )
        self._thread.start()

    def submit(self, job: _Job) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        """Let the thread end after the job it is running, if any; never waits for it."""
        self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._handle_batch(job.bodies)
            except BaseException as error:  # all of them: the connection's thread reports it
                job.error = error
            job.finished.set()
            job.on_done()


@dataclass(eq=False)
class _Delivery:
    tag: int
    body: bytes
    received_at: float  # time.monotonic()


class _Session:
    """One connection and its channel.

    Delivery tags mean something only on the channel that delivered them, so pending and
    in-flight deliveries die with their session; the broker requeues whatever was not acked.
    """

    def __init__(self, connection: pika.BlockingConnection, channel: BlockingChannel) -> None:
        self.connection = connection
        self.channel = channel
        self.pending: list[_Delivery] = []
        self.in_flight: _Job | None = None
        self.cancelled_by_broker = False

    def on_delivery(
        self, _channel: BlockingChannel, method: Basic.Deliver, _props: BasicProperties, body: bytes
    ) -> None:
        if method.delivery_tag is None:  # never sent by a broker; the type allows it
            raise ConnectionLost("a delivery without a delivery tag")
        self.pending.append(_Delivery(method.delivery_tag, body, time.monotonic()))

    def on_cancelled_by_broker(self, _method: Basic.Cancel) -> None:
        # The queue was deleted (or the node holding it went away): without a new consumer
        # we would sit idle forever, so treat it like a lost connection.
        self.cancelled_by_broker = True

    def wake(self) -> None:
        """Called from the batch thread: make `process_data_events` return now."""
        with contextlib.suppress(*BROKER_ERRORS):
            self.connection.add_callback_threadsafe(_nothing)

    def raise_if_lost(self) -> None:
        if self.cancelled_by_broker:
            raise ConnectionLost("consumer cancelled by the broker")
        if not self.channel.is_open:
            raise ConnectionLost("channel closed")


def _nothing() -> None:
    pass


class QueueConsumer:
    """Consumes the queue until `stop` is set; survives broker outages and failing batches.

    `handle_batch` is called with up to `batch_max` raw bodies, one batch at a time, always on
    the same dedicated thread (so a Django database connection it opens is that thread's);
    returning means "committed, ack them", raising means "nothing happened, send them again".
    `on_connected` is called on run()'s thread after each (re)connection.
    """

    def __init__(
        self,
        config: ConsumerConfig,
        handle_batch: Callable[[list[bytes]], None],
        stop: threading.Event,
        *,
        on_connected: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._handle_batch = handle_batch
        self._stop = stop
        self._on_connected = on_connected
        initial, most = config.reconnect_initial_seconds, config.reconnect_max_seconds
        self._broker_backoff = Backoff(initial, most)
        self._batch_backoff = Backoff(initial, most)
        # After a failed batch no new batch starts before this time.monotonic() instant.
        self._batches_paused_until = 0.0
        # Batches failed in a row (the database is down): one warning per streak, not one
        # per retry, and one line when batches go through again.
        self._failed_batches = 0

    def run(self) -> None:
        """Block until `stop` is set, then close the connection and return (within ~1 s,
        or `stop_grace_seconds` if a batch is being handled). Call it from its own thread."""
        batch_thread = _BatchThread(self._handle_batch)
        try:
            self._run_sessions(batch_thread)
        finally:
            batch_thread.close()
        logger.info("action=consumer_stopped queue=%s", self._config.queue)

    def _run_sessions(self, batch_thread: _BatchThread) -> None:
        in_outage = False
        while not self._stop.is_set():
            session: _Session | None = None
            retry_in_seconds = 0.0
            try:
                session = self._open_session()
                self._announce_connected()
                in_outage = False
                self._consume(session, batch_thread)
                return
            except SESSION_ERRORS as error:
                retry_in_seconds = self._broker_backoff.next_delay_seconds()
                # One warning per outage, however many attempts it takes to end it.
                log = logger.debug if in_outage else logger.warning
                log(
                    "action=broker_unavailable queue=%s error=%s detail=%r retry_in_seconds=%.2f",
                    self._config.queue,
                    type(error).__name__,
                    str(error)[:200],
                    retry_in_seconds,
                )
                in_outage = True
            except Exception as error:
                # Not a broker error we know, so a bug of ours or pika's: still no reason to
                # stop consuming for the rest of the process's life. Logged with the
                # traceback, then retried like an outage.
                retry_in_seconds = self._broker_backoff.next_delay_seconds()
                logger.exception(
                    "action=consumer_error queue=%s error=%s retry_in_seconds=%.2f",
                    self._config.queue,
                    type(error).__name__,
                    retry_in_seconds,
                )
            finally:
                if session is not None:
                    self._close_session(session)
            self._stop.wait(retry_in_seconds)

    def _open_session(self) -> _Session:
        config = self._config
        parameters = connection_parameters(config.url, connection_name=config.connection_name)
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            declare_queue(channel, config.queue)
            channel.basic_qos(prefetch_count=config.prefetch)
            session = _Session(connection, channel)
            channel.add_on_cancel_callback(session.on_cancelled_by_broker)
            channel.basic_consume(
                queue=config.queue, on_message_callback=session.on_delivery, auto_ack=False
            )
        except BaseException:
            close_quietly(connection)
            raise
        return session

    def _announce_connected(self) -> None:
        self._broker_backoff.reset()
        logger.info("action=broker_connected queue=%s", self._config.queue)
        if self._on_connected is not None:
            self._on_connected()

    def _close_session(self, session: _Session) -> None:
        if session.in_flight is not None:
            # Its callback may still commit; the broker redelivers the batch regardless,
            # and ingest collapses the duplicates.
            logger.info(
                "action=batch_abandoned queue=%s count=%d",
                self._config.queue,
                len(session.in_flight.bodies),
            )
        close_quietly(session.connection)

    def _consume(self, session: _Session, batch_thread: _BatchThread) -> None:
        stop_deadline: float | None = None
        while True:
            now = time.monotonic()
            if self._stop.is_set():
                if stop_deadline is None:
                    stop_deadline = now + self._config.stop_grace_seconds
                if session.in_flight is None or now >= stop_deadline:
                    return
            _process_events(session.connection, self._wait_seconds(session, now))
            session.raise_if_lost()
            self._settle(session)
            if not self._stop.is_set():
                self._maybe_submit(session, batch_thread, time.monotonic())

    def _batch_due_at(self, session: _Session) -> float:
        if len(session.pending) >= self._config.batch_max:
            return self._batches_paused_until
        first_received_at = session.pending[0].received_at
        return max(first_received_at + self._config.batch_wait_seconds, self._batches_paused_until)

    def _wait_seconds(self, session: _Session, now: float) -> float:
        if session.in_flight is not None or not session.pending or self._stop.is_set():
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.0, self._batch_due_at(session) - now))

    def _maybe_submit(self, session: _Session, batch_thread: _BatchThread, now: float) -> None:
        if session.in_flight is not None or not session.pending:
            return
        if now < self._batch_due_at(session):
            return
        # Deliveries arrive in tag order and every batch is a prefix of the pending ones, so
        # "ack up to the last tag" covers exactly this batch.
        batch = session.pending[: self._config.batch_max]
        del session.pending[: self._config.batch_max]
        job = _Job([d.body for d in batch], batch[-1].tag, session.wake)
        session.in_flight = job
        batch_thread.submit(job)

    def _settle(self, session: _Session) -> None:
        job = session.in_flight
        if job is None or not job.finished.is_set():
            return
        session.in_flight = None
        if job.error is None:
            session.channel.basic_ack(delivery_tag=job.last_delivery_tag, multiple=True)
            self._batch_backoff.reset()
            logger.debug(
                "action=batch_acked queue=%s count=%d", self._config.queue, len(job.bodies)
            )
            if self._failed_batches:
                logger.info(
                    "action=batches_resumed queue=%s failed_batches=%d",
                    self._config.queue,
                    self._failed_batches,
                )
                self._failed_batches = 0
            return
        session.channel.basic_nack(delivery_tag=job.last_delivery_tag, multiple=True, requeue=True)
        retry_in_seconds = self._batch_backoff.next_delay_seconds()
        self._batches_paused_until = time.monotonic() + retry_in_seconds
        self._failed_batches += 1
        # The exception's text may quote the data (a database error's DETAIL does): only
        # its type is logged.
        log = logger.warning if self._failed_batches == 1 else logger.debug
        log(
            "action=batch_failed queue=%s count=%d error=%s retry_in_seconds=%.2f failures=%d",
            self._config.queue,
            len(job.bodies),
            type(job.error).__name__,
            retry_in_seconds,
            self._failed_batches,
        )


def _process_events(connection: pika.BlockingConnection, seconds: float) -> None:
    connection.process_data_events(time_limit=seconds)  # type: ignore[arg-type]  # pika takes float seconds; types-pika says int
