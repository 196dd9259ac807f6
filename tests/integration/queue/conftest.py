from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from uuid import uuid4

import pika
import pytest

from missedmail.queue.consumer import ConsumerConfig
from tests.integration.queue.support import LogWatcher
from tests.services import require_rabbitmq


@pytest.fixture
def amqp_url() -> str:
    return require_rabbitmq()


@pytest.fixture
def queue_name(amqp_url: str) -> Iterator[str]:
    """A queue of this test's own, so parallel runs never share one; deleted afterwards."""
    name = f"mm-test-{uuid4().hex}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().queue_delete(queue=name)
    finally:
        connection.close()


@pytest.fixture
def config(amqp_url: str, queue_name: str) -> ConsumerConfig:
    # Short backoffs keep the retry tests quick; the policy is the same.
    return ConsumerConfig(
        url=amqp_url,
        queue=queue_name,
        reconnect_initial_seconds=0.01,
        reconnect_max_seconds=0.05,
        connection_name=f"missedmail test consumer {uuid4().hex}",
    )


@pytest.fixture
def queue_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="missedmail.queue")
    return caplog


@pytest.fixture
def watch_log() -> Iterator[Callable[[str], LogWatcher]]:
    """`watch_log(text)`: a LogWatcher on the queue package's logger, removed afterwards."""
    logger = logging.getLogger("missedmail.queue")
    watchers: list[LogWatcher] = []

    def watch(text: str) -> LogWatcher:
        watcher = LogWatcher(text)
        logger.addHandler(watcher)
        watchers.append(watcher)
        return watcher

    yield watch
    for watcher in watchers:
        logger.removeHandler(watcher)
