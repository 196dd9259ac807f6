"""Raw SQL for the bulk paths (queue ingest, message batches), where the ORM's per-value
Python was most of the CPU.

Measured on batches of 500 events and of 1,000 messages (docs/performance.md): Django
prepares each value of an `__in` list through its field, and psycopg's client-side binding
then re-parses a query holding one placeholder per value, a different string each batch, so
never from its cache; `bulk_create` builds a model instance per row and, on PostgreSQL,
dumps every column as an array in Python. Here instead:

- id lists are inlined as integer literals (`sql_ids`): one short string, no placeholders;
- rows are inserted with COPY on PostgreSQL (psycopg formats rows in C) and one
  `executemany` on SQLite (`insert_rows`).

Everything else (small or rare writes) stays on the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, Model


def sql_ids(values: Iterable[int]) -> str:
    """Integer ids as an SQL list body ("1,2,3"), for `IN (...)`; never empty-checked here.

    Safe to inline in SQL: "%d" renders an int as digits and a sign and raises on anything
    that is not a number, so no value can carry SQL. (Callers pass ids that were validated
    as integers in range anyway.)
    """
    return ",".join(["%d" % value for value in values])  # noqa: UP031 -- see above


def sql_pairs(pairs: Iterable[tuple[int, int]]) -> str:
    """Integer pairs as the rows of a VALUES list ("(1,2),(3,4)"); safe as `sql_ids` is."""
    return ",".join(["(%d,%d)" % pair for pair in pairs])  # noqa: UP031 -- see sql_ids


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field_name: str) -> str:
    return connection.ops.quote_name(_field(model, field_name)[1])


def _field(model: type[Model], field_name: str) -> tuple[Field[Any, Any], str]:
    model_field = model._meta.get_field(field_name)
    if not isinstance(model_field, Field) or not model_field.column:
        raise TypeError(f"{model.__name__}.{field_name} is not a column")
    return model_field, model_field.column


def fetch(sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query that has no parameters (its values are inlined literals)."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def utc_wall_time(expression: str) -> str:
    """SQL reading a timestamp column (or an aggregate of one) as naive UTC: pass what it
    returns through `aware`.

    On PostgreSQL, `timestamp with time zone` values come back through Django's loader,
    which is Python (a regular expression and a `replace` per value); `AT TIME ZONE 'UTC'`
    turns them into plain timestamps, which psycopg loads in C. SQLite stores naive UTC
    text already.
    """
    if connection.vendor == "postgresql":
        return f"({expression}) AT TIME ZONE 'UTC'"
    return expression


def aware(value: datetime | str) -> datetime:
    """A timestamp read by raw SQL, as an aware UTC datetime: PostgreSQL returns it aware
    (or naive UTC, through `utc_wall_time`), SQLite as naive UTC text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def insert_rows(
    model: type[Model], field_names: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Insert `rows` (values in the order of `field_names`, as Python values) in one go.

    Nothing is returned and no model is built: for rows whose ids the caller knows or does
    not need. Database errors are Django's (an `IntegrityError` on a duplicate key, an
    `OperationalError` when the database is away), as from the ORM.
    """
    if not rows:
        return
    fields = [_field(model, name) for name in field_names]
    columns = ", ".join(connection.ops.quote_name(name) for _field_, name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is psycopg's own API, below Django's cursor wrapper: wrap its errors here.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table(model)} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        # SQLite keeps datetimes as naive UTC text; let Django convert them as it would.
        adapt = connection.ops.adapt_datetimefield_value
        dates = {i for i, (f, _name) in enumerate(fields) if isinstance(f, DateTimeField)}
        params: list[list[Any]] = [
            [adapt(v) if i in dates else v for i, v in enumerate(row)]  # type: ignore[arg-type]
            for row in rows
        ]
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table(model)} ({columns}) VALUES ({marks})", params)  # noqa: S608
