"""Batches: handed over, acked only after the callback returned, redelivered otherwise."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from missedmail.queue.consumer import ConsumerConfig
from missedmail.queue.depth import queue_depth
from missedmail.queue.publisher import QueuePublisher
from tests.integration.queue.support import Recorder, RunningConsumer, records_with


def publish(url: str, queue: str, bodies: list[bytes]) -> None:
    with QueuePublisher(url, queue) as publisher:
        assert publisher.publish(bodies) == len(bodies)


def events(count: int) -> list[bytes]:
    return [
        f'{{"user_profile_id": 10, "message_id": {n}, "trigger": "mentioned"}}'.encode()
        for n in range(1, count + 1)
    ]


def test_bodies_are_handed_over_unchanged_and_acked_once_the_callback_returned(
    config: ConsumerConfig,
) -> None:
    sent = [*events(3), b"\xff\xfe not json at all", b'{"user_profile_id": 10}']
    publish(config.url, config.queue, sent)
    recorder = Recorder()

    with RunningConsumer(config, recorder) as consumer:
        assert recorder.wait_for_bodies(len(sent))
        assert consumer.stop_and_join()

    assert sorted(recorder.bodies) == sorted(sent)
    # Nothing waits in the queue once the consumer's connection is gone: every body was acked,
    # the undecodable ones too (the callback records those as rejected).
    assert queue_depth(config.url, config.queue) == (0, 0)


def test_a_batch_whose_callback_never_returned_is_delivered_again_to_the_next_consumer(
    config: ConsumerConfig,
) -> None:
    sent = events(3)
    publish(config.url, config.queue, sent)
    release = threading.Event()
    stuck = Recorder(release=release)
    try:
        # No grace on stop: the consumer goes away while its callback is still committing.
        with RunningConsumer(replace(config, stop_grace_seconds=0), stuck) as first:
            assert stuck.entered.wait(15)
            assert first.stop_and_join()

        recorder = Recorder()
        with RunningConsumer(config, recorder):
            assert recorder.wait_for_bodies(len(sent))
        assert sorted(recorder.bodies) == sorted(sent)
    finally:
        release.set()


def test_a_failing_callback_gets_its_batch_requeued_and_handed_over_again(
    config: ConsumerConfig, queue_logs: pytest.LogCaptureFixture
) -> None:
    sent = events(5)
    publish(config.url, config.queue, sent)
    recorder = Recorder(fail_times=2)

    with RunningConsumer(config, recorder) as consumer:
        assert recorder.wait_for_bodies(len(sent))
        assert consumer.stop_and_join()

    # Each body was accepted exactly once, after two failed attempts; nothing was lost.
    assert sorted(recorder.bodies) == sorted(sent)
    assert recorder.calls >= 3
    failures = records_with(queue_logs, "action=batch_failed")
    assert len(failures) == 2
    assert all("error=RuntimeError" in record.getMessage() for record in failures)
    assert all("database" not in record.getMessage() for record in failures)
    assert queue_depth(config.url, config.queue) == (0, 0)


def test_two_thousand_messages_arrive_exactly_once_in_batches_no_larger_than_the_maximum(
    config: ConsumerConfig,
) -> None:
    sent = events(2000)
    publish(config.url, config.queue, sent)
    recorder = Recorder()

    with RunningConsumer(replace(config, batch_max=100, prefetch=300), recorder) as consumer:
        assert recorder.wait_for_bodies(len(sent))
        assert consumer.stop_and_join()

    assert len(recorder.bodies) == len(sent)
    assert set(recorder.bodies) == set(sent)
    assert max(len(batch) for batch in recorder.batches) <= 100
    assert len(recorder.batches) >= 20
    assert queue_depth(config.url, config.queue) == (0, 0)
