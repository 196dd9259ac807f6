"""Database functions Django does not ship, written for both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db.models import Func, IntegerField


class JsonArrayLength(Func):
    """The length of a JSON array column: `json_array_length` on SQLite, and on
    PostgreSQL, where JSONField is `jsonb`, `jsonb_array_length`."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra_context)
