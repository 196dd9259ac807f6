"""Private benchmark databases and fast bulk loading into them.

Each workload gets its own database, created for it and dropped after it: a fresh
`bench_<random>` on the local PostgreSQL server, or a SQLite file in the run's directory, so
no benchmark ever touches a colleague's data or inherits another workload's bloat. Tables are
loaded with COPY (PostgreSQL) or one `executemany` per table (SQLite), not through
missedmail: seeding is set-up, not part of any measurement.
"""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.data import Org

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"

REALM_COLUMNS = (
    "id",
    "name",
    "url",
    "deactivated",
    "message_content_allowed_in_email_notifications",
)
USER_COLUMNS = (
    "id", "realm_id", "email", "full_name", "is_active", "is_bot", "timezone",
    "default_language", "twenty_four_hour_time", "email_notifications_batching_period_seconds",
    "enable_offline_email_notifications", "message_content_in_email_notifications",
    "realm_name_in_email_notifications_policy", "enable_stream_email_notifications",
    "enable_followed_topic_email_notifications",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "realm_id", "sender_id", "type", "stream_id", "topic", "conversation_id", "content",
    "rendered_content", "date_sent",
)  # fmt: skip
SCHEDULED_COLUMNS = (
    "user_id", "message_id", "trigger", "mentioned_user_group_id", "scheduled_timestamp",
    "created_at", "compose_failures",
)  # fmt: skip
SCHEDULED = "scheduling_schedulednotification"


class BenchDatabase:
    """One private database: its URL for missedmail, and a connection for the harness."""

    def __init__(self, kind: str, url: str, *, name: str = "", path: Path | None = None) -> None:
        self.kind = kind
        self.url = url
        self.name = name
        self.path = path
        self._conn: Any = None

    @classmethod
    def create(cls, kind: str, workdir: Path, label: str) -> BenchDatabase:
        if kind == "sqlite":
            path = workdir / f"{label}-{secrets.token_hex(3)}.sqlite3"
            return cls("sqlite", f"sqlite:///{path}", path=path)
        name = f"bench_{label}_{secrets.token_hex(4)}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls("postgresql", f"postgres://postgres@127.0.0.1:5432/{name}", name=name)

    def migrate(self, env: dict[str, str]) -> None:
        subprocess.run(
            [sys.executable, "-m", "missedmail", "migrate", "--quiet"],
            env=env | {"DATABASE_URL": self.url},
            check=True,
            capture_output=True,
        )

    def drop(self) -> None:
        self.close()
        if self.kind == "sqlite" and self.path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        elif self.name:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    # -- the harness's own connection -----------------------------------------------------

    def connection(self) -> Any:
        if self._conn is None:
            if self.kind == "sqlite":
                assert self.path is not None
                self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            else:
                self._conn = psycopg.connect(self.url, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def scalar(self, sql: str, params: Sequence[object] = ()) -> Any:
        row = self.rows(sql, params)
        return row[0][0] if row else None

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            sql = sql.replace("%s", "?")
            params = [_sqlite_value(value) for value in params]
        cursor = self.connection().execute(sql, params)
        return list(cursor.fetchall())

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        if self.kind == "sqlite":
            self.connection().execute(sql.replace("%s", "?"), [_sqlite_value(v) for v in params])
        else:
            self.connection().execute(sql, params)

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
        """Bulk-insert `rows`; returns how many."""
        count = 0
        if self.kind == "sqlite":
            conn = self.connection()
            marks = ", ".join("?" * len(columns))
            # Table and column names are the harness's own constants, never input.
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            conn.execute("BEGIN")
            batch: list[list[object]] = []
            for row in rows:
                batch.append([_sqlite_value(value) for value in row])
                if len(batch) == 10000:
                    conn.executemany(insert, batch)
                    count += len(batch)
                    batch = []
            conn.executemany(insert, batch)
            conn.execute("COMMIT")
            return count + len(batch)
        with (
            self.connection().cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def analyze(self) -> None:
        """Statistics for the loaded tables, as autovacuum (off on the benchmark's server)
        would have them. Not for the outbox's, which a run has just emptied: analysed
        empty, they made the foreign-key check of every delivery attempt plan a sequential
        scan of the outbox, kept for the connection's life (170-300 us per email instead
        of 12). In production autovacuum analyses them as they fill, which replans."""
        if self.kind == "sqlite":
            self.execute("ANALYZE")
            return
        tables = [
            str(name)
            for (name,) in self.rows(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND left(tablename, 7) <> 'outbox_'"
            )
        ]
        self.execute("ANALYZE " + ", ".join(f'"{name}"' for name in tables))

    def load_org(self, org: Org) -> None:
        self.load("core_realm", REALM_COLUMNS, [org.realm])
        self.load("core_userprofile", USER_COLUMNS, org.users)
        self.load("core_stream", ("id", "realm_id", "name"), org.streams)
        self.load(
            "core_directconversation", ("id", "realm_id", "participants_key"), org.conversations
        )
        self.load(
            "core_directconversation_participants",
            ("directconversation_id", "userprofile_id"),
            org.participants,
        )
        self.load("core_message", MESSAGE_COLUMNS, org.messages)
        self.load("core_usermessage", ("user_id", "message_id", "flags"), org.user_messages)
        if self.kind == "postgresql":
            # Ids were given explicitly; later inserts through the API must not collide.
            self.execute(
                "SELECT setval(pg_get_serial_sequence('core_directconversation', 'id'), "
                "(SELECT max(id) FROM core_directconversation))"
            )
        self.analyze()

    def schedule(
        self, pairs: Iterable[tuple[int, int, str]], due: datetime, created: datetime
    ) -> int:
        """Notifications due at `due`, as ingest would have stored them."""
        return self.load(
            SCHEDULED,
            SCHEDULED_COLUMNS,
            ((user, message, trigger, None, due, created, 0) for user, message, trigger in pairs),
        )

    def count(self, table: str, where: str = "") -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table} {where}"))  # noqa: S608 -- our tables


def _sqlite_value(value: object) -> object:
    # Django keeps SQLite datetimes as naive UTC text, booleans as integers.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return value
