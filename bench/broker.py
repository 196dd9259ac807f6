"""A private RabbitMQ vhost per benchmark run, and loading a queue with events.

The vhost (`bench-<random>`) is created with `rabbitmqctl` and deleted with everything in it
when the run ends, so benchmark traffic never meets a colleague's queues.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Sequence

import pika
import pika.spec

QUEUE = "missedmessage_emails"
PERSISTENT = pika.BasicProperties(
    content_type="application/json", delivery_mode=pika.spec.PERSISTENT_DELIVERY_MODE
)


class Vhost:
    def __init__(self) -> None:
        self.name = f"bench-{secrets.token_hex(4)}"
        self.url = f"amqp://guest:guest@127.0.0.1:5672/{self.name}"

    def create(self) -> Vhost:
        _ctl("add_vhost", self.name)
        _ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        return self

    def delete(self) -> None:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", self.name], capture_output=True)

    def connect(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url))

    def fill(self, bodies: Sequence[bytes]) -> None:
        """Publish persistent messages to a fresh queue and wait until all are enqueued."""
        connection = self.connect()
        try:
            channel = connection.channel()
            channel.queue_delete(queue=QUEUE)
            channel.queue_declare(queue=QUEUE, durable=True)
            for index, body in enumerate(bodies):
                channel.basic_publish("", QUEUE, body, PERSISTENT)
                if index % 5000 == 4999:
                    connection.process_data_events(time_limit=0)
        finally:
            connection.close()
        self.wait_depth(len(bodies))

    def depth(self) -> int:
        connection = self.connect()
        try:
            result = connection.channel().queue_declare(queue=QUEUE, durable=True, passive=True)
            return int(result.method.message_count or 0)
        finally:
            connection.close()

    def wait_depth(self, expected: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while (depth := self.depth()) != expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"queue holds {depth} messages, expected {expected}")
            time.sleep(0.2)


def _ctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)
