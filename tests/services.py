"""Finding the real services integration tests need.

Locally a missing service skips its tests; under CI (`CI=true`) it fails them, so an
integration test can never pass by silently not running (dramatiq's `check_rabbitmq`).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def port_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(available: bool, what: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is not reachable, and CI=true: integration tests may not skip")
    pytest.skip(f"{what} is not reachable")


def require_rabbitmq() -> str:
    require(port_open(AMQP_URL, 5672), f"RabbitMQ at {AMQP_URL}")
    return AMQP_URL


def require_postgres() -> str:
    require(port_open(POSTGRES_URL, 5432), f"PostgreSQL at {POSTGRES_URL}")
    return POSTGRES_URL


def main(argv: list[str]) -> int:
    """`python -m tests.services postgres|rabbitmq`: exit 0 if reachable. Unreachable: exit 1
    locally (the caller skips), and fail loudly under CI."""
    checks = {"postgres": (POSTGRES_URL, 5432), "rabbitmq": (AMQP_URL, 5672)}
    url, port = checks[argv[0]]
    if port_open(url, port):
        return 0
    if IN_CI:
        print(f"{argv[0]} is not reachable at {url}, and CI=true")
        return 2
    print(f"{argv[0]} is not reachable at {url}: skipping its test run")
    return 1


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
