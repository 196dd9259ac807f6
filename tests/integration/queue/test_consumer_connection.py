"""The connection: the queue's declaration, outages, reconnects and stopping."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
import pytest

from missedmail.queue.consumer import ConsumerConfig
from missedmail.queue.depth import queue_depth
from missedmail.queue.publisher import QueuePublisher
from tests.integration.queue.support import (
    LogWatcher,
    Recorder,
    RunningConsumer,
    TcpProxy,
    records_with,
)


def plain_channel(url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


@pytest.fixture
def other_client(amqp_url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A client that declares queues the way Zulip does."""
    yield from plain_channel(amqp_url)


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}"))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_queue_is_declared_durable_with_no_arguments_so_a_plain_declare_agrees(
    config: ConsumerConfig,
    other_client: pika.adapters.blocking_connection.BlockingChannel,
) -> None:
    with RunningConsumer(config, Recorder()) as consumer:
        assert consumer.wait_connected()
        # Any argument on our side would make this fail with PRECONDITION_FAILED.
        other_client.queue_declare(queue=config.queue, durable=True)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            other_client.queue_declare(queue=config.queue, durable=False)
        assert refused.value.reply_code == 406


def test_the_consumer_accepts_a_queue_a_producer_declared_plainly_first(
    config: ConsumerConfig,
    other_client: pika.adapters.blocking_connection.BlockingChannel,
) -> None:
    other_client.queue_declare(queue=config.queue, durable=True)
    other_client.basic_publish(exchange="", routing_key=config.queue, body=b"{}")
    recorder = Recorder()

    with RunningConsumer(config, recorder):
        assert recorder.wait_for_bodies(1)

    assert recorder.bodies == [b"{}"]


def test_a_lost_connection_is_logged_once_and_consuming_resumes_after_reconnecting(
    config: ConsumerConfig, queue_logs: pytest.LogCaptureFixture
) -> None:
    broker = urlsplit(config.url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    recorder = Recorder()
    try:
        with (
            QueuePublisher(config.url, config.queue) as publisher,
            RunningConsumer(replace(config, url=with_port(config.url, proxy.port)), recorder) as c,
        ):
            assert c.wait_connected()
            publisher.publish([b"before"])
            assert recorder.wait_for_bodies(1)

            proxy.refuse()
            proxy.cut()
            # Several failed attempts make one outage, and one warning.
            assert proxy.wait_for_refusals(3)
            publisher.publish([b"during"])
            proxy.allow()
            assert c.wait_connected(times=2)
            publisher.publish([b"after"])
            assert recorder.wait_for_bodies(3)
            assert c.stop_and_join()
    finally:
        proxy.close()

    # At least once: "before" comes twice when the cut beat its ack; nothing is lost.
    assert set(recorder.bodies) == {b"before", b"during", b"after"}
    assert len(records_with(queue_logs, "action=broker_unavailable")) >= 3
    warnings = [
        r for r in records_with(queue_logs, "action=broker_unavailable") if r.levelname == "WARNING"
    ]
    assert len(warnings) == 1
    assert len(records_with(queue_logs, "action=broker_connected")) == 2


def rabbitmqctl(*arguments: str) -> str:
    """Run rabbitmqctl; skip the test where it cannot reach the broker (a broker in a
    container): the relay test above covers reconnecting there."""
    command = shutil.which("rabbitmqctl")
    if command is None:
        pytest.skip("no rabbitmqctl here; the relay test covers reconnects")
    done = subprocess.run(
        [command, "-q", *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        pytest.skip("rabbitmqctl cannot reach the broker here; the relay test covers reconnects")
    return done.stdout


def test_a_connection_the_broker_closes_is_reopened(
    config: ConsumerConfig, queue_logs: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()

    with RunningConsumer(config, recorder) as consumer:
        assert consumer.wait_connected()
        [pid] = [
            line.split("\t")[0]
            for line in rabbitmqctl("list_connections", "pid", "client_properties").splitlines()
            if config.connection_name in line
        ]
        rabbitmqctl("close_connection", pid, "test: closed by the broker")
        assert consumer.wait_connected(times=2)
        with QueuePublisher(config.url, config.queue) as publisher:
            publisher.publish([b"after"])
        assert recorder.wait_for_bodies(1)

    [warning] = records_with(queue_logs, "action=broker_unavailable")
    assert "error=ConnectionClosedByBroker" in warning.getMessage()


def test_a_consumer_cancelled_by_the_broker_declares_the_queue_again_and_goes_on(
    config: ConsumerConfig,
    other_client: pika.adapters.blocking_connection.BlockingChannel,
) -> None:
    recorder = Recorder()

    with RunningConsumer(config, recorder) as consumer:
        assert consumer.wait_connected()
        other_client.queue_delete(queue=config.queue)
        assert consumer.wait_connected(times=2)
        with QueuePublisher(config.url, config.queue) as publisher:
            publisher.publish([b"after"])
        assert recorder.wait_for_bodies(1)


def test_stop_ends_an_idle_consumer_promptly(config: ConsumerConfig) -> None:
    consumer = RunningConsumer(config, Recorder())
    with consumer:
        assert consumer.wait_connected()
        assert consumer.stop_and_join()
    assert consumer.error is None


def test_stop_is_not_held_up_by_the_wait_before_the_next_connection_attempt(
    config: ConsumerConfig, watch_log: Callable[[str], LogWatcher]
) -> None:
    unavailable = watch_log("action=broker_unavailable")
    slow_retries = replace(
        config,
        url=with_port(config.url, unused_port()),
        reconnect_initial_seconds=300,
        reconnect_max_seconds=300,
    )
    consumer = RunningConsumer(slow_retries, Recorder())
    with consumer:
        assert unavailable.seen.wait(15)
        assert consumer.stop_and_join()
    assert consumer.connections == 0


def test_heartbeats_go_on_while_a_slow_callback_holds_its_batch(config: ConsumerConfig) -> None:
    broker = urlsplit(config.url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    release = threading.Event()
    slow = Recorder(release=release)
    url = with_port(config.url, proxy.port) + "?heartbeat=1"
    try:
        with QueuePublisher(config.url, config.queue) as publisher:
            publisher.publish([b"{}"])
        with RunningConsumer(replace(config, url=url), slow) as consumer:
            assert slow.entered.wait(15)
            # A heartbeat every half second: the broker's one-second timeout passes
            # several times over while the callback holds the batch.
            assert proxy.wait_for_heartbeats(proxy.heartbeats_sent + 4)
            release.set()
            assert slow.wait_for_bodies(1)
            assert consumer.stop_and_join()
    finally:
        release.set()
        proxy.close()

    assert consumer.connections == 1
    assert queue_depth(config.url, config.queue) == (0, 0)
