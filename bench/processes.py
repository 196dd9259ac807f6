"""missedmail as an operator runs it: `missedmail worker` and `missedmail web` subprocesses.

Each process gets a private data directory, the benchmark's database, vhost and sink, and a
log file in the run directory. `peak_rss_mb` reads the kernel's high-water mark of the
process's resident memory (VmHWM in /proc/<pid>/status).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

BANNER_END = "Press Ctrl-C to stop."
API_TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 -- a throw-away local token
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 -- same


def service_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MISSEDMAIL_", "EMAIL_", "DJANGO_"))
        and key not in ("DATABASE_URL", "AMQP_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        MISSEDMAIL_DATA_DIR=str(data_dir),
        MISSEDMAIL_API_TOKEN=API_TOKEN,
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        DEBUG="false",
    )
    env.update(extra)
    return env


class ServiceProcess:
    """`python -m missedmail <command>` in the background, ready once it printed its banner."""

    def __init__(self, command: str, env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "missedmail", command],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_ready(self, timeout: float = 60) -> ServiceProcess:
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                raise RuntimeError(f"missedmail exited before it was ready; see {self.log_path}")
            if line == BANNER_END:
                return self

    def peak_rss_mb(self) -> float:
        return _status_kb(self.pid, "VmHWM") / 1024

    def rss_mb(self) -> float:
        return _status_kb(self.pid, "VmRSS") / 1024

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def start_workers(
    count: int, env: Mapping[str, str], workdir: Path, label: str
) -> list[ServiceProcess]:
    workers = [
        ServiceProcess("worker", env, workdir / f"{label}-worker{n}.log") for n in range(count)
    ]
    for worker in workers:
        worker.wait_ready()
    return workers


def stop_all(processes: list[ServiceProcess]) -> list[int]:
    for process in processes:
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGTERM)
    return [process.stop() for process in processes]
