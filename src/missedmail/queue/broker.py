"""What every connection to the broker shares: the queue's shape and the connection settings.

The queue is a classic durable queue declared with no arguments (contract §3). Zulip declares
`missedmessage_emails` exactly so; any argument we added (a queue type, a TTL, a dead-letter
exchange) would make one side's declaration fail with PRECONDITION_FAILED.
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, urlsplit

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorException

QUEUE_NAME = "missedmessage_emails"

# A connection that is refused, dropped, closed by the broker, or whose channel is closed.
# OSError covers the socket errors pika lets through while a connection is torn down.
# AMQPConnectorException: pika raises some connection-workflow errors as they are, e.g.
# AMQPConnectorStackTimeout when a broker accepts TCP but never finishes the handshake (a
# node starting up or a frozen network); uncaught, it ended the consumer thread for good.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPError,
    AMQPConnectorException,
    OSError,
)

# Heartbeats let both sides notice a dead peer (a NAT that forgot us, a crashed broker)
# within two intervals rather than a TCP timeout of many minutes.
HEARTBEAT_SECONDS = 30
# Bound how long one connection attempt may block, so a stop request or the next retry is
# not held up by a host that silently drops packets.
SOCKET_TIMEOUT_SECONDS = 5.0
STACK_TIMEOUT_SECONDS = 10.0


def connection_parameters(
    url: str,
    *,
    connection_name: str,
    heartbeat_seconds: int = HEARTBEAT_SECONDS,
    socket_timeout_seconds: float = SOCKET_TIMEOUT_SECONDS,
    stack_timeout_seconds: float = STACK_TIMEOUT_SECONDS,
    blocked_connection_timeout_seconds: float | None = None,
) -> pika.URLParameters:
    """Parameters for `url` (amqp:// or amqps://); settings the URL's query string names win.

    `connection_name` shows in the broker's connection list, so operators can tell our
    consumers, publishers and probes apart. Raises ValueError for an unusable URL.
    """
    parameters = pika.URLParameters(url)
    given = parse_qs(urlsplit(url).query)
    if "heartbeat" not in given:
        parameters.heartbeat = heartbeat_seconds
    if "socket_timeout" not in given:
        parameters.socket_timeout = socket_timeout_seconds
    if "stack_timeout" not in given:
        parameters.stack_timeout = stack_timeout_seconds
    if "blocked_connection_timeout" not in given and blocked_connection_timeout_seconds:
        parameters.blocked_connection_timeout = blocked_connection_timeout_seconds
    if "client_properties" not in given:
        parameters.client_properties = {"connection_name": connection_name}
    return parameters


def check_url(url: str) -> None:
    """Raise ValueError when pika cannot use `url` (e.g. an unknown query parameter).

    For start-up validation: the consumer itself would otherwise only fail in its thread.
    """
    try:
        connection_parameters(url, connection_name="check")
    except ValueError:
        raise
    except Exception as error:  # ssl_options and client_properties go through literal_eval
        raise ValueError(f"unusable query string: {type(error).__name__}") from None


def declare_queue(channel: BlockingChannel, queue: str) -> None:
    """Declare `queue` as Zulip does: durable, no arguments. Idempotent."""
    channel.queue_declare(queue=queue, durable=True)


def close_quietly(connection: pika.BlockingConnection | None) -> None:
    """Close `connection` if it is still open; a connection that is already gone is fine."""
    if connection is None or not connection.is_open:
        return
    with contextlib.suppress(*BROKER_ERRORS):
        connection.close()
