"""Starting a missedmail process: settings, Django, the database check, the transport.

Shared by the CLI and the demo. Problems end the process with one line on stderr naming the
cause and a non-zero exit, never a traceback. Models and services are imported inside the
functions because Django can only import them after `setup_django()` has validated the
settings and configured the apps.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

from missedmail.conf import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from missedmail.outbox.transports import Transport

EXIT_USAGE = 2
EXIT_FAILURE = 1


class StartupError(Exception):
    """A problem that stops the command; the message is the one line shown."""


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    print(f"missedmail: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def setup_django() -> Settings:
    """Read the settings (exiting on a bad one), then start Django with them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missedmail.django_settings")
    try:
        settings = load_settings()
        import django

        django.setup()
    except ConfigError as error:
        fail(str(error), EXIT_USAGE)
    return settings


def check_database(settings: Settings, *, migrate_embedded: bool) -> None:
    """Fail clearly when the database is unreachable or not migrated.

    The embedded SQLite database is migrated automatically: zero setup is its point. A real
    database is migrated by the operator (`missedmail migrate`), deliberately.
    """
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        where = "DATABASE_URL" if not settings.database_is_embedded else str(settings.data_dir)
        fail(f"database unreachable ({where}): {str(error).strip().splitlines()[0]}")
    if unapplied:
        if settings.database_is_embedded and migrate_embedded:
            call_command("migrate", verbosity=0)
        else:
            fail(f"{len(unapplied)} database migrations not applied: run `missedmail migrate`")
    connection.close()


def check_amqp_url(settings: Settings) -> None:
    """pika's own reading of AMQP_URL (query parameters such as heartbeat), at start-up
    rather than first inside the consumer thread."""
    from missedmail.queue.broker import check_url

    if settings.amqp_url:
        try:
            check_url(settings.amqp_url)
        except ValueError as error:
            raise ConfigError(f"AMQP_URL: {error}") from None


def build_transport(settings: Settings) -> Transport:
    from missedmail.outbox.transports import transport_from_settings

    return transport_from_settings(settings)
