"""Fixtures of the fault-injection suite (docs/reliability.md).

Private servers, never the shared ones: a PostgreSQL cluster and a RabbitMQ node of this
test session, which tests stop, kill and restart; each test gets its own database and vhost
in them, and its own SMTP sink.

Two tiers. Tests marked `faults_slow` (minutes each, or repeated runs) are deselected unless
MISSEDMAIL_FAULTS=all, which `make faults` sets; everything else also runs in `make test`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.deployment import Deployment, assert_no_content_in_logs
from tests.faults.postgres import PrivatePostgres
from tests.faults.rabbitmq import PrivateRabbitMQ
from tests.faults.sink import FaultSink

RUN_ALL = os.environ.get("MISSEDMAIL_FAULTS", "").lower() == "all"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults_slow: a long fault test; runs only with MISSEDMAIL_FAULTS=all"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN_ALL:
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("faults_slow") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[PrivateRabbitMQ]:
    server = PrivateRabbitMQ()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def postgres(postgres_server: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """The private cluster, running at the start of the test and again at its end."""
    if not postgres_server.running:
        postgres_server.start()
    yield postgres_server
    if not postgres_server.running:
        postgres_server.start()


@pytest.fixture
def rabbitmq(rabbitmq_server: PrivateRabbitMQ) -> Iterator[PrivateRabbitMQ]:
    if not rabbitmq_server.running:
        rabbitmq_server.start()
    yield rabbitmq_server
    if not rabbitmq_server.running:
        rabbitmq_server.start()


@pytest.fixture
def sink() -> Iterator[FaultSink]:
    server = FaultSink().start()
    yield server
    server.stop()


DeploymentFactory = Callable[..., Deployment]


@pytest.fixture
def deploy(
    tmp_path: Path, postgres: PrivatePostgres, sink: FaultSink
) -> Iterator[DeploymentFactory]:
    """Makes the test's deployment: a fresh database (migrated), the sink, and a broker
    vhost when given one. Stops every process at the end and scans every log for content."""
    made: list[Deployment] = []

    def make(amqp_url: str | None = None, **extra_env: str) -> Deployment:
        database = postgres.create_database(f"mm_{secrets.token_hex(5)}")
        deployment = Deployment(tmp_path, database, amqp_url, sink.env, dict(extra_env))
        deployment.migrate()
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.stop_all()
    assert_no_content_in_logs(tmp_path.glob("*.log"))


@pytest.fixture
def vhost(rabbitmq: PrivateRabbitMQ) -> str:
    """A vhost of this test's own on the private node; its AMQP URL."""
    return rabbitmq.add_vhost(f"mm-{secrets.token_hex(5)}")
