"""A background loop that sleeps until its next piece of work is due.

Zulip's batcher polls every 5 s. Ours asks its step function when the next work falls due
and sleeps exactly until then on a condition variable; `wake(at)` interrupts the sleep when
work appears earlier than planned (docs/decisions/0002-punctual-batcher.md).

Three places the thread can be, and what a concurrent `wake()` does there:
- running `step`: `wake` records the earlier time in `_wake_at`; after `step` returns, the
  loop takes the earlier of that and the step's answer, so the wake-up is not lost;
- waiting with a deadline: `wake` moves the deadline earlier and notifies;
- waiting without a deadline (nothing pending): `wake` sets a deadline and notifies.
Over-notifying is harmless: the step finds nothing due and the loop sleeps again.

Errors: an exception in `step` is logged and the loop waits 1, 2, 4, … 30 s before trying
again — on the condition variable, not `time.sleep`, so `stop()` is never delayed. A
successful step resets the backoff. One line per outage: the first failure of a streak is
an error (with its traceback, unless the database is merely unreachable), the following
ones are debug lines, and the first success after them says the loop recovered -- a
database down for an hour is two lines per thread, not a hundred tracebacks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError

from missedmail.clock import Clock

logger = logging.getLogger(__name__)

BACKOFF_INITIAL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# An unreachable database: the error type says it all, a traceback would only be noise.
UNREACHABLE_ERRORS = (OperationalError, InterfaceError)

Step = Callable[[datetime], datetime | None]


def backoff_seconds(failures: int) -> float:
    """1, 2, 4, 8, 16, 30, 30, … for the 1st, 2nd, … consecutive failure."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_INITIAL_SECONDS * 2.0 ** (failures - 1), BACKOFF_MAX_SECONDS)


class WakeableLoop:
    """Runs `step(now) -> next_due` in a thread until `stop()`.

    `step` returns when it next wants to run (None: only when woken). `max_wait_seconds`
    bounds every sleep, for loops that must look again now and then even when idle.
    `on_exit` runs on the loop's own thread as it ends (to close that thread's database
    connection: Django gives one per thread, and only its thread may close it).
    """

    def __init__(
        self,
        name: str,
        step: Step,
        clock: Clock,
        *,
        max_wait_seconds: float | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._clock = clock
        self._max_wait_seconds = max_wait_seconds
        self._on_error = on_error
        self._on_exit = on_exit
        self._condition = threading.Condition()
        self._stopping = False
        self._wake_at: datetime | None = None  # guarded by _condition
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.passes = 0  # completed steps, for tests and heartbeats

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self, at: datetime | None = None) -> None:
        """Run the step at `at` (now when None) unless it is already planned earlier."""
        at = at or self._clock.now()
        with self._condition:
            # `<=`, not `<`: a wake-up for the very time already planned still notifies, so
            # a waiter whose timeout was computed from an earlier clock reading re-checks.
            if self._wake_at is None or at <= self._wake_at:
                self._wake_at = at
                self._condition.notify_all()

    def stop(self, timeout: float | None = None) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_step(self) -> datetime | None:
        """One step, with the error policy; the thread's body, callable from tests."""
        now = self._clock.now()
        try:
            next_due = self._step(now)
        except Exception as error:
            self._failures += 1
            delay = backoff_seconds(self._failures)
            self._log_failure(error, delay)
            if self._on_error is not None:
                self._on_error(error)
            return self._clock.now() + timedelta(seconds=delay)
        if self._failures:
            logger.info("action=loop_recovered loop=%s failures=%d", self.name, self._failures)
        self._failures = 0
        self.passes += 1
        return next_due

    def _log_failure(self, error: Exception, delay: float) -> None:
        first = self._failures == 1
        logger.log(
            logging.ERROR if first else logging.DEBUG,
            "action=loop_error loop=%s failures=%d error=%s retry_in_seconds=%.0f",
            self.name,
            self._failures,
            type(error).__name__,
            delay,
            exc_info=first and not isinstance(error, UNREACHABLE_ERRORS),
        )

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _loop(self) -> None:
        # The first step runs at once: there may be work left from before a restart.
        self.wake()
        while True:
            with self._condition:
                while not self._stopping:
                    timeout = self._seconds_until(self._wake_at)
                    if timeout is not None and timeout <= 0:
                        break
                    if not self._condition.wait(timeout):
                        break  # the deadline (or the bounded idle wait) has passed
                if self._stopping:
                    return
                self._wake_at = None
            next_due = self.run_step()
            if next_due is not None:
                self.wake(next_due)

    def _seconds_until(self, at: datetime | None) -> float | None:
        if at is None:
            return self._max_wait_seconds
        remaining = (at - self._clock.now()).total_seconds()
        if self._max_wait_seconds is not None:
            remaining = min(remaining, self._max_wait_seconds)
        return remaining
