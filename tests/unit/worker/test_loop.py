from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.worker.loop import WakeableLoop, backoff_seconds

WAIT = 10  # generous bound for thread hand-offs; tests finish as soon as events fire


def test_backoff_doubles_from_one_second_up_to_thirty() -> None:
    assert [backoff_seconds(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff_seconds(0) == 0


class Recorder:
    """A step that records when it ran and returns what the test told it to."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []
        self.ran = threading.Semaphore(0)
        self.next_due: datetime | None = None
        self.fail_with: Exception | None = None

    def __call__(self, now: datetime) -> datetime | None:
        self.calls.append(now)
        self.ran.release()
        if self.fail_with is not None:
            raise self.fail_with
        return self.next_due

    def wait_for_run(self) -> None:
        assert self.ran.acquire(timeout=WAIT), "the step did not run"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_the_first_step_runs_at_start_then_the_loop_sleeps_until_woken(
    clock: ManualClock, recorder: Recorder
) -> None:
    loop = WakeableLoop("test", recorder, clock)
    loop.start()
    try:
        recorder.wait_for_run()
        assert not recorder.ran.acquire(timeout=0.2)  # nothing pending: no further steps
        loop.wake()
        recorder.wait_for_run()
        assert len(recorder.calls) == 2
    finally:
        loop.stop()
    assert not loop.is_alive


def test_a_wake_up_for_later_does_not_run_the_step_now(
    clock: ManualClock, recorder: Recorder
) -> None:
    loop = WakeableLoop("test", recorder, clock)
    loop.start()
    try:
        recorder.wait_for_run()
        loop.wake(clock.now() + timedelta(hours=1))
        assert not recorder.ran.acquire(timeout=0.2)
        loop.wake(clock.now())  # earlier work appears: runs at once
        recorder.wait_for_run()
    finally:
        loop.stop()


def test_stop_interrupts_a_long_sleep_promptly(clock: ManualClock, recorder: Recorder) -> None:
    recorder.next_due = clock.now() + timedelta(days=7)
    loop = WakeableLoop("test", recorder, clock)
    loop.start()
    recorder.wait_for_run()
    loop.stop(timeout=WAIT)
    assert not loop.is_alive


def test_on_exit_runs_once_on_the_loops_own_thread_when_it_stops(
    clock: ManualClock, recorder: Recorder
) -> None:
    exits: list[threading.Thread] = []
    loop = WakeableLoop(
        "test", recorder, clock, on_exit=lambda: exits.append(threading.current_thread())
    )
    loop.start()
    recorder.wait_for_run()
    assert exits == []
    loop.stop(timeout=WAIT)
    assert not loop.is_alive
    assert [thread.name for thread in exits] == ["test"]
    assert exits[0] is not threading.current_thread()


def test_an_error_in_the_step_is_logged_and_retried_after_a_backoff(
    clock: ManualClock, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="missedmail.worker.loop")
    errors: list[BaseException] = []
    recorder.fail_with = RuntimeError("boom")
    loop = WakeableLoop("test", recorder, clock, on_error=errors.append)
    # run_step is the thread's body; called directly it shows the policy without threads.
    first = loop.run_step()
    second = loop.run_step()
    assert first == clock.now() + timedelta(seconds=1)
    assert second == clock.now() + timedelta(seconds=2)
    assert [str(e) for e in errors] == ["boom", "boom"]
    assert "action=loop_error loop=test failures=2" in caplog.text
    # One line per outage: the first failure is an error with its traceback, the next debug.
    levels = [(r.levelname, bool(r.exc_info)) for r in caplog.records]
    assert levels == [("ERROR", True), ("DEBUG", False)]
    recorder.fail_with = None
    recorder.next_due = None
    assert loop.run_step() is None
    assert "action=loop_recovered loop=test failures=2" in caplog.text
    recorder.fail_with = RuntimeError("again")
    assert loop.run_step() == clock.now() + timedelta(seconds=1)  # success reset the backoff


def test_a_bounded_wait_runs_the_step_again_without_a_wake_up(
    clock: ManualClock, recorder: Recorder
) -> None:
    loop = WakeableLoop("test", recorder, clock, max_wait_seconds=0.01)
    loop.start()
    try:
        recorder.wait_for_run()
        recorder.wait_for_run()  # no wake() call: the bounded idle wait expired
    finally:
        loop.stop()
