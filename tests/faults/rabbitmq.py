"""A private RabbitMQ node that fault tests may stop and restart at will.

Never the machine's shared broker: other engineers' tests use it. The node has its own
name (`mmfault-<random>@localhost`), ports, database, logs and Erlang cookie, all in a
temporary directory, and is stopped and thrown away at the end. It is started with the
package's own scripts from /usr/lib/rabbitmq/bin (the /usr/sbin wrappers would switch to
the `rabbitmq` user and its home) with HOME pointing at the temporary directory, so its
cookie is its own. A restarted node keeps its durable queues and persistent messages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.services import require
from tests.smtp_sink import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_SECONDS = 120


def rabbitmq_available() -> bool:
    return (RABBITMQ_BIN / "rabbitmq-server").exists() and (RABBITMQ_BIN / "rabbitmqctl").exists()


class PrivateRabbitMQ:
    def __init__(self) -> None:
        require(rabbitmq_available(), f"RabbitMQ server scripts in {RABBITMQ_BIN}")
        self.root = Path(tempfile.mkdtemp(prefix="mmfault-rabbit-"))
        self.node = f"mmfault-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        dist_port = free_port()
        (self.root / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(self.root),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.root / "node.pid"),
        }
        self.running = False

    def url(self, vhost: str = "%2F") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def start(self) -> None:
        subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmq-server"), "-detached"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.running = True
        try:
            # `wait` reads the pid file the node writes as it starts, then waits for the
            # broker to be up; `await_startup` fails at once while the node is not yet known.
            pid_file = str(self.root / "node.pid")
            self.ctl("wait", pid_file, "--timeout", str(START_TIMEOUT_SECONDS))
        except subprocess.CalledProcessError as error:
            raise AssertionError(
                f"RabbitMQ node {self.node} did not start: {error.stdout} {error.stderr}\n"
                + self.log_tail()
            ) from None

    def log_tail(self, lines: int = 40) -> str:
        tails = []
        for log in sorted((self.root / "log").glob("*.log")):
            tails.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self) -> None:
        """Stop the node and wait until its process is gone (as `systemctl stop` would)."""
        self.ctl("shutdown")
        self.running = False

    def add_vhost(self, name: str) -> str:
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.url(name)

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, "-q", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS + 30,
        )
        return done.stdout

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop()
        pid_file = self.root / "node.pid"
        if pid_file.exists():  # a node that would not stop: it goes anyway
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().strip()), 9)
        shutil.rmtree(self.root, ignore_errors=True)
