"""Running the real `missedmail` command as a subprocess, as an operator would."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

BANNER_END = "Press Ctrl-C to stop."
TOKEN = "acceptance-token-0123456789"


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MISSEDMAIL_", "EMAIL_", "DJANGO_"))
        and key not in ("DATABASE_URL", "AMQP_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
    }
    env.update(MISSEDMAIL_DATA_DIR=str(data_dir), MISSEDMAIL_API_TOKEN=TOKEN)
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: Mapping[str, str], stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "missedmail", *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServiceProcess:
    """`missedmail <command>` in the background; stdout lines arrive through a queue."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "missedmail", *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for_banner(self, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(
                    f"process exited before it was ready: {seen} (log {self.log_path})"
                )
            seen.append(line)
            if line == BANNER_END:
                return seen

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code


def api(
    base: str, method: str, path: str, body: object | None = None, token: str = TOKEN
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 -- loopback test server
        f"{base}/api/v1/{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    """Wait for another *process* to reach a state only visible by asking it. (Threads of
    the test itself synchronise with events; a subprocess can only be observed.)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
