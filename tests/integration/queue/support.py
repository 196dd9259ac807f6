"""What the queue tests drive the consumer with: a recording callback, a consumer on its own
thread, a log watcher, and a TCP relay that can cut the consumer off from the broker.

Every wait here is on a condition or an event with a bound; nothing sleeps to synchronise.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import types
from collections.abc import Callable

import pytest

from missedmail.queue.consumer import ConsumerConfig, QueueConsumer

# An AMQP heartbeat frame: type 8, channel 0, empty payload, frame end.
HEARTBEAT_FRAME = b"\x08\x00\x00\x00\x00\x00\x00\xce"
# A bound on every wait: long enough for a slow CI machine, short enough to fail a hung test.
WAIT_SECONDS = 15.0


class Recorder:
    """The batch callback: keeps each batch it accepted.

    `fail_times` first calls raise (the database is down); with `release`, each call waits
    for that event first (a slow commit), and `entered` tells the test a call has begun.
    """

    def __init__(self, *, fail_times: int = 0, release: threading.Event | None = None) -> None:
        self.batches: list[list[bytes]] = []
        self.calls = 0
        self.entered = threading.Event()
        self._fail_times = fail_times
        self._release = release
        self._changed = threading.Condition()

    def __call__(self, bodies: list[bytes]) -> None:
        self.entered.set()
        if self._release is not None:
            self._release.wait(WAIT_SECONDS)
        with self._changed:
            self.calls += 1
            self._changed.notify_all()
            if self.calls <= self._fail_times:
                raise RuntimeError("the database is down")
            self.batches.append(list(bodies))
            self._changed.notify_all()

    @property
    def bodies(self) -> list[bytes]:
        with self._changed:
            return [body for batch in self.batches for body in batch]

    def wait_for_bodies(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(len(batch) for batch in self.batches) >= count, WAIT_SECONDS
            )


class RunningConsumer:
    """A QueueConsumer on its own thread, for a `with` block; counts its connections."""

    def __init__(self, config: ConsumerConfig, handle_batch: Callable[[list[bytes]], None]):
        self.stop = threading.Event()
        self.connections = 0
        self.error: BaseException | None = None
        self._connected = threading.Condition()
        self._consumer = QueueConsumer(config, handle_batch, self.stop, on_connected=self._count)
        self._thread = threading.Thread(target=self._run, name="test-consumer", daemon=True)

    def __enter__(self) -> RunningConsumer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop_and_join()

    def wait_connected(self, times: int = 1) -> bool:
        with self._connected:
            return self._connected.wait_for(lambda: self.connections >= times, WAIT_SECONDS)

    def stop_and_join(self) -> bool:
        """Stop the consumer; True when run() returned within the bound."""
        self.stop.set()
        self._thread.join(WAIT_SECONDS)
        return not self._thread.is_alive()

    def _count(self) -> None:
        with self._connected:
            self.connections += 1
            self._connected.notify_all()

    def _run(self) -> None:
        try:
            self._consumer.run()
        except BaseException as error:
            self.error = error
            raise


class LogWatcher(logging.Handler):
    """Sets `seen` once a record containing `text` is logged, from any thread."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


class TcpProxy:
    """A TCP relay to the broker that a test can cut and refuse.

    To the consumer, a cut looks like the broker going away (its socket dies) and a refusing
    relay like a broker that is not back yet, while the broker other tests share keeps running.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.refused = 0
        self.heartbeats_sent = 0  # by the client, towards the broker
        self._refusing = False
        self._sockets: list[socket.socket] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._accept, name="test-proxy", daemon=True).start()

    def refuse(self) -> None:
        with self._changed:
            self._refusing = True

    def allow(self) -> None:
        with self._changed:
            self._refusing = False

    def cut(self) -> None:
        """Drop every relayed connection, both ends."""
        with self._changed:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def wait_for_refusals(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.refused >= count, WAIT_SECONDS)

    def close(self) -> None:
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return  # closed
            with self._changed:
                if self._refusing:
                    self.refused += 1
                    self._changed.notify_all()
                    _close(client)
                    continue
            upstream = socket.create_connection(self._upstream, WAIT_SECONDS)
            upstream.settimeout(None)  # an idle AMQP connection is silent between heartbeats
            with self._changed:
                self._sockets += [client, upstream]
            for source, sink, count in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, count), daemon=True).start()

    def wait_for_heartbeats(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.heartbeats_sent >= count, WAIT_SECONDS)

    def _pump(self, source: socket.socket, sink: socket.socket, count_heartbeats: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if count_heartbeats and HEARTBEAT_FRAME in data:
                    with self._changed:
                        self.heartbeats_sent += data.count(HEARTBEAT_FRAME)
                        self._changed.notify_all()
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def records_with(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if text in record.getMessage()]
