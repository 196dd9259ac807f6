"""The publisher's messages, and the depth probe /readyz and the dashboard read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from missedmail.queue.consumer import ConsumerConfig
from missedmail.queue.depth import queue_depth
from missedmail.queue.publisher import MessagesReturned, QueuePublisher
from tests.integration.queue.support import Recorder, RunningConsumer


@pytest.fixture
def channel(amqp_url: str) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def test_published_messages_are_persistent_json_in_a_durable_queue(
    amqp_url: str, queue_name: str, channel: BlockingChannel
) -> None:
    body = b'{"user_profile_id": 10, "message_id": 1, "trigger": "direct_message"}'
    with QueuePublisher(amqp_url, queue_name) as publisher:
        assert publisher.publish([body]) == 1

    method, properties, received = channel.basic_get(queue=queue_name, auto_ack=True)
    assert method is not None
    assert properties is not None
    assert received == body  # type: ignore[comparison-overlap]  # types-pika says str; it is bytes
    assert properties.delivery_mode == pika.spec.PERSISTENT_DELIVERY_MODE
    assert properties.content_type == "application/json"
    channel.queue_declare(queue=queue_name, durable=True)  # no PRECONDITION_FAILED


def test_a_publish_the_broker_cannot_route_raises_instead_of_vanishing(
    amqp_url: str, queue_name: str, channel: BlockingChannel
) -> None:
    with QueuePublisher(amqp_url, queue_name) as publisher:
        publisher.declare()
        channel.queue_delete(queue=queue_name)
        with pytest.raises(MessagesReturned):
            publisher.publish([b"{}", b"{}"])


def test_the_depth_counts_waiting_messages_and_consumers(
    amqp_url: str, queue_name: str, config: ConsumerConfig
) -> None:
    with QueuePublisher(amqp_url, queue_name) as publisher:
        publisher.publish([b"{}"] * 3)
    assert queue_depth(amqp_url, queue_name) == (3, 0)

    recorder = Recorder()
    with RunningConsumer(config, recorder) as consumer:
        assert recorder.wait_for_bodies(3)
        assert queue_depth(amqp_url, queue_name) == (0, 1)
        assert consumer.stop_and_join()


def test_the_depth_of_a_queue_nobody_declared_yet_is_zero(amqp_url: str, queue_name: str) -> None:
    assert queue_depth(amqp_url, queue_name) == (0, 0)


def test_the_depth_is_none_when_the_broker_cannot_be_reached(amqp_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    parts = urlsplit(amqp_url)
    unreachable = urlunsplit(parts._replace(netloc=f"guest:guest@127.0.0.1:{port}"))

    assert queue_depth(unreachable, "missedmessage_emails") is None
