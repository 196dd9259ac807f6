"""A private PostgreSQL cluster that fault tests may stop, kill and restart at will.

Never the machine's shared cluster: other engineers' tests run against it. The cluster
lives in a temporary directory, listens on a free port of the loopback interface, trusts
local connections, and is thrown away at the end. PostgreSQL refuses to run as root, so as
root its commands run as the `postgres` user (`runuser`), in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg

from tests.services import require
from tests.smtp_sink import free_port

START_TIMEOUT_SECONDS = 60


def server_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian keeps them apart)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


class PrivatePostgres:
    def __init__(self) -> None:
        bin_dir = server_bin_dir()
        require(bin_dir is not None, "PostgreSQL server binaries (initdb, pg_ctl)")
        assert bin_dir is not None
        self._bin = bin_dir
        self._as_postgres = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="mmfault-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            # Without fsync the data still reaches the operating system at each commit, so
            # it survives the server being killed (what these tests do), though not a power
            # cut (which they do not). synchronous_commit stays on: an "immediate" stop
            # would otherwise lose the last commits, which production does not allow.
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast`: disconnect everyone and shut down cleanly; `immediate`: as after a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        command: Sequence[str] = [str(self._bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        yield conn


def scalar(url: str, sql: str, *params: object) -> Any:
    with connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def wait_for_blocked_query(url: str, fragment: str, timeout: float = 30) -> int:
    """The pid of the backend that waits for a lock while running a query containing
    `fragment`; waits (polling another process, with a deadline) until there is one."""
    deadline = time.monotonic() + timeout
    with connect(url) as conn:
        while True:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND state = 'active' AND query LIKE %s "
                "AND pid <> pg_backend_pid() LIMIT 1",
                (f"%{fragment}%",),
            ).fetchone()
            if row is not None:
                return int(row[0])
            if time.monotonic() > deadline:
                raise AssertionError(f"no query like {fragment!r} waited for a lock in {timeout}s")
            time.sleep(0.02)
