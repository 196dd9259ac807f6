"""How many messages wait in the queue, and how many consumers read it: for /readyz and
the operator dashboard."""

from __future__ import annotations

import pika
import pika.exceptions

from missedmail.queue.broker import BROKER_ERRORS, QUEUE_NAME, close_quietly, connection_parameters

PROBE_TIMEOUT_SECONDS = 2.0
NOT_FOUND = 404


def queue_depth(
    url: str, queue: str = QUEUE_NAME, *, timeout_seconds: float = PROBE_TIMEOUT_SECONDS
) -> tuple[int, int] | None:
    """(messages ready, consumers) of `queue`, or None when the broker cannot be reached.

    A passive declare reads the counts without creating the queue; a queue that does not
    exist yet (no worker or producer has declared it) holds nothing: (0, 0). Messages
    delivered to a consumer and not yet acked are not "ready" and not counted. Opens a
    short-lived connection per call, so callers should not poll it in a tight loop.
    """
    try:
        parameters = connection_parameters(
            url,
            connection_name="missedmail probe",
            heartbeat_seconds=0,
            socket_timeout_seconds=timeout_seconds,
            stack_timeout_seconds=timeout_seconds,
        )
    except ValueError:
        return None
    connection: pika.BlockingConnection | None = None
    try:
        connection = pika.BlockingConnection(parameters)
        channel = connection.channel()
        declared = channel.queue_declare(queue=queue, passive=True)
        return declared.method.message_count or 0, declared.method.consumer_count or 0
    except pika.exceptions.ChannelClosedByBroker as error:
        return (0, 0) if error.reply_code == NOT_FOUND else None
    except BROKER_ERRORS:
        return None
    finally:
        close_quietly(connection)
