"""The SMTP sink: a separate process that accepts every email, timestamps it, discards it.

`python -m bench.sink PORT LOGFILE` serves aiosmtpd on 127.0.0.1:PORT and appends one line
per accepted email to LOGFILE: the wall-clock time at which the server answered 250 to the
DATA command, and the email's Message-ID (so the harness can match each arrival with its
outbox row and due time, and count duplicates). The log is flushed every 50 ms; the
timestamps are taken at acceptance, so flushing never shows in a latency.

`Sink` starts the process and reads its log.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
FLUSH_SECONDS = 0.05


class _Handler:
    def __init__(self, log: Any) -> None:
        self._log = log
        self._lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        accepted = time.time()
        content: bytes = envelope.original_content or envelope.content or b""
        head = content[: content.find(b"\r\n\r\n") if b"\r\n\r\n" in content else 8192]
        match = _MESSAGE_ID.search(head)
        message_id = match.group(1).decode("ascii", "replace") if match else "-"
        with self._lock:
            self._log.write(f"{accepted:.6f} {message_id}\n")
        return "250 OK"

    def flush(self) -> None:
        with self._lock:
            self._log.flush()


def serve(port: int, log_path: Path) -> None:
    from aiosmtpd.controller import Controller

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with log_path.open("a", encoding="ascii") as log:
        handler = _Handler(log)
        controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=30)
        controller.start()
        print("ready", flush=True)
        while not stop.wait(FLUSH_SECONDS):
            handler.flush()
        controller.stop()
        handler.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Arrival:
    at: float
    message_id: str


@dataclass
class Sink:
    """A running sink process and the arrivals read from its log so far."""

    workdir: Path
    port: int = field(default_factory=free_port)
    arrivals: list[Arrival] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _offset: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"sink-{self.port}.log"

    def start(self) -> Sink:
        self.log_path.touch()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", str(self.port), str(self.log_path)],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(30)

    @property
    def env(self) -> dict[str, str]:
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}

    def poll(self) -> int:
        """Read new arrivals; returns how many arrived in all."""
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].splitlines():
            at, message_id = line.split(b" ", 1)
            self.arrivals.append(Arrival(float(at), message_id.decode()))
        return len(self.arrivals)

    def reset(self) -> None:
        """Forget every arrival so far, once the sink has gone quiet (the log is flushed
        every 50 ms, so the tail of an earlier send could otherwise count as new)."""
        self.settle(0.3)
        self.arrivals = []

    def wait_for(self, count: int, timeout: float) -> bool:
        """Poll until `count` arrivals since the last reset, or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.poll() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def settle(self, quiet_seconds: float = 1.0) -> int:
        """Wait until nothing new arrived for `quiet_seconds` (late duplicates show up)."""
        last = self.poll()
        while True:
            time.sleep(quiet_seconds)
            now = self.poll()
            if now == last:
                return now
            last = now


if __name__ == "__main__":
    serve(int(sys.argv[1]), Path(sys.argv[2]))
