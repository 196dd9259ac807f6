"""A TCP relay between a worker and the broker that can stop passing the worker's bytes on.

Frozen, it still delivers what the broker sends, but keeps everything the worker sends
(its acks) from reaching the broker: exactly the moment "the batch is committed, its ack
is not yet at the broker". Killing the worker then, the broker must deliver the batch again.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class FreezableRelay:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="fault-relay", daemon=True).start()

    def freeze(self) -> None:
        """From now on, the client's bytes stop here (and are never sent)."""
        self._flowing.clear()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream, 10)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink, gated in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, gated), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, gated: bool) -> None:
        try:
            while data := source.recv(65536):
                if gated and not self._flowing.is_set():
                    return  # frozen: these bytes, and all later ones, are dropped
                sink.sendall(data)
        except OSError:
            pass
        finally:
            if not gated or self._flowing.is_set():
                _close(source)
                _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
