"""Raw SQL for the bulk paths (queue ingest, message batches), where the ORM's per-value
Python was most of the CPU.

Measured on batches of 500 events and of 1,000 messages (docs/performance.md): Django
prepares each value of an `__in` list through its field, and psycopg's client-side binding
then re-parses a query holding one placeholder per value, a different string each batch, so
never from its cache; `bulk_create` builds a model instance per row and, on PostgreSQL,
dumps every column as an array in Python. Here instead:

- id lists are inlined as integer literals (`sql_ids`): one short string, no placeholders;
- rows are inserted with COPY on PostgreSQL (psycopg formats rows in C) and one
  `executemany` on SQLite (`insert_rows`); rows that need new ids take them from the
  table's sequence in one statement first (`insert_new_rows`);
- rows that may already be there are inserted with their integer keys inlined and conflicts
  ignored (`insert_pairs_ignoring_conflicts`), as COPY cannot skip a duplicate.
- existing rows are updated by key with one `UPDATE ... FROM unnest(arrays)` on PostgreSQL
  and one `executemany` on SQLite (`update_rows`), not the ORM's `bulk_update`.

Everything else (small or rare writes) stays on the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import AutoField, DateTimeField, Field, Model


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
    not need (`insert_new_rows` returns new ids). A JSON column takes its JSON text
    (`json.dumps(value)`, what the ORM writes). Database errors are Django's (an
    `IntegrityError` on a duplicate key, an `OperationalError` when the database is away),
    as from the ORM.
    """
    if not rows:
        return
    fields = [_field(model, name) for name in field_names]
    columns = _column_list(fields)
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
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"INSERT INTO {table(model)} ({columns}) VALUES ({marks})",  # noqa: S608
            _sqlite_params(fields, rows),
        )


def insert_new_rows(
    model: type[Model], field_names: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[int]:
    """Insert `rows` as `insert_rows` does, each with a new id of the table's auto-increment
    primary key; returns the ids, ascending, in the rows' order (as the ORM's `bulk_create`
    numbers them).

    PostgreSQL: the ids are taken from the table's sequence in one statement, then copied in
    with the rows. `nextval` never hands a value out twice, whatever other sessions insert
    meanwhile (their ids may fall between ours: only the order is promised, not contiguity).
    SQLite: the rows are inserted, then numbered back from the last id inserted. That is
    exact because they are inserted in one transaction (joined, or begun here): from its
    first row on, it holds the database's one write lock, so no other connection's row can
    come between ours, and each row takes the next id.
    """
    if not rows:
        return []
    primary_key = model._meta.pk
    if not isinstance(primary_key, AutoField):
        raise TypeError(f"{model.__name__}'s primary key is not auto-incremented")
    if connection.vendor == "postgresql":
        ids = _next_ids(model, _field(model, primary_key.name)[1], len(rows))
        insert_rows(
            model,
            (primary_key.attname, *field_names),
            [(new_id, *row) for new_id, row in zip(ids, rows, strict=True)],
        )
        return ids
    # No savepoint: the caller's transaction, if any, is all this needs (and a savepoint
    # would cost two more statements).
    with transaction.atomic(savepoint=False):
        insert_rows(model, field_names, rows)
        [(last_id,)] = fetch("SELECT last_insert_rowid()")
    return list(range(last_id - len(rows) + 1, last_id + 1))


def _next_ids(model: type[Model], pk_column: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        series = f"generate_series(1, {count:d})"
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM {series}",  # noqa: S608
            [table(model), pk_column],
        )
        # One session's nextval calls return increasing values; sorting says so explicitly.
        return sorted(new_id for (new_id,) in cursor.fetchall())


def insert_pairs_ignoring_conflicts(
    model: type[Model],
    pair_fields: tuple[str, str],
    pairs: Sequence[tuple[int, int]],
    constants: Mapping[str, object],
) -> None:
    """Insert one row per integer pair (the values of `pair_fields`), each with the same
    `constants` in its other columns; a row that would break a unique constraint is left
    out, as `bulk_create(ignore_conflicts=True)` does, in one statement whatever the count.

    PostgreSQL: the pairs are inlined (`sql_pairs`: one short string, no placeholder per
    value) with `ON CONFLICT DO NOTHING`; SQLite: one `executemany` of `INSERT OR IGNORE`.
    """
    if not pairs:
        return
    fields = [_field(model, name) for name in (*pair_fields, *constants)]
    columns = _column_list(fields)
    values: list[Any] = list(constants.values())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            marks = "".join(", %s" for _ in values)
            cursor.execute(
                f"INSERT INTO {table(model)} ({columns}) "  # noqa: S608
                f"SELECT p.column1, p.column2{marks} FROM (VALUES {sql_pairs(pairs)}) p "
                "ON CONFLICT DO NOTHING",
                values,
            )
            return
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"INSERT OR IGNORE INTO {table(model)} ({columns}) VALUES ({marks})",  # noqa: S608
            _sqlite_params(fields, [(*pair, *values) for pair in pairs]),
        )


def update_rows(
    model: type[Model], field_names: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Set `field_names` of existing rows, in one statement whatever the count: each row is
    its primary key followed by the new values in the order of `field_names` (Python values,
    as `insert_rows` takes them). Keys that match no row are ignored, as an UPDATE does.

    Replaces the ORM's `bulk_update`, whose one `CASE id WHEN ... THEN ...` per field makes
    PostgreSQL test every WHEN of the statement for every row (quadratic in the batch), and
    which builds a model instance per row.

    PostgreSQL: `UPDATE ... FROM unnest(<one array per column>)`, joined on the key: one
    placeholder per column whatever the row count (not one per value, as a VALUES list
    would need, for the client-side binding to parse). SQLite: one `executemany` of a plain
    keyed UPDATE, prepared once (the database is in-process, so there is no round trip to
    save, and no limit on the number of bound variables to mind).
    """
    if not rows:
        return
    primary_key = model._meta.pk
    if primary_key is None:
        raise TypeError(f"{model.__name__} has no primary key")
    key = _field(model, primary_key.name)
    fields = [_field(model, name) for name in field_names]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f, _name in (key, *fields))
            assignments = ", ".join(f"{quote(name)} = v.{quote(name)}" for _f, name in fields)
            key_column = quote(key[1])
            cursor.execute(
                f"UPDATE {table(model)} AS t SET {assignments} "  # noqa: S608
                f"FROM unnest({arrays}) AS v({_column_list((key, *fields))}) "
                f"WHERE t.{key_column} = v.{key_column}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        assignments = ", ".join(f"{connection.ops.quote_name(name)} = %s" for _f, name in fields)
        cursor.executemany(
            f"UPDATE {table(model)} SET {assignments} "  # noqa: S608
            f"WHERE {connection.ops.quote_name(key[1])} = %s",
            _sqlite_params([*fields, key], [(*row[1:], row[0]) for row in rows]),
        )


def _column_list(fields: Sequence[tuple[Field[Any, Any], str]]) -> str:
    return ", ".join(connection.ops.quote_name(name) for _field_, name in fields)


def _sqlite_params(
    fields: Sequence[tuple[Field[Any, Any], str]], rows: Sequence[Sequence[object]]
) -> list[list[Any]]:
    """Rows as SQLite parameters: datetimes as the naive UTC text Django stores; the rest as
    the sqlite3 module takes them (bytes are stored as a BLOB, as the ORM's are)."""
    adapt = connection.ops.adapt_datetimefield_value
    dates = {i for i, (f, _name) in enumerate(fields) if isinstance(f, DateTimeField)}
    if not dates:
        return [list(row) for row in rows]
    return [
        [adapt(v) if i in dates else v for i, v in enumerate(row)]  # type: ignore[arg-type]
        for row in rows
    ]
