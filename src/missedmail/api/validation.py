"""Field types of the API's request schemas, and pydantic errors as "<field path>: <problem>".

Types are strict, as JSON is: "5" is not an integer and `true` is not 1. Strings are any
Unicode except NUL (PostgreSQL cannot store it) and lone surrogates (not encodable as UTF-8);
single-line fields refuse control characters as well.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from missedmail.api.responses import ApiError, Code
from missedmail.events import MAX_ID, json_type


def _check_id(value: int) -> int:
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"must be between 1 and 2^63-1, got {value}")
    return value


def _check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it contains a lone surrogate)") from None
    return value


def _check_single_line(value: str) -> str:
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain line breaks or other control characters")
    return value


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 date-time string, got {json_type(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"expected an ISO-8601 date-time such as 2026-11-28T10:00:00Z, got {shorten(value)!r}"
        ) from None
    if moment.utcoffset() is None:
        raise ValueError("must include a timezone (Z or an offset such as +01:00)")
    return moment.astimezone(UTC)


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_timezone(value: str) -> str:
    if value and value not in _zone_names():
        raise ValueError(f'unknown IANA time zone {shorten(value)!r} (use e.g. Europe/Paris or "")')
    return value


def bounded(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return AfterValidator(check)


Id = Annotated[int, Strict(), AfterValidator(_check_id)]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict(), AfterValidator(_check_text)]
Line = Annotated[Text, AfterValidator(_check_single_line)]
DateTime = Annotated[datetime, PlainValidator(_parse_datetime)]
TimeZone = Annotated[Text, Field(max_length=64), AfterValidator(_check_timezone)]


class Body(BaseModel):
    """A request object: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class PartialBody(Body):
    """A PUT/PATCH body: every field optional, and a field that is given may not be null
    (null would be ambiguous between "unchanged" and "cleared") unless listed here."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("must not be null")
        return value


def shorten(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def field_path(location: Sequence[int | str], prefix: str = "") -> str:
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def describe(error: ErrorDetails) -> str:
    """The problem of one pydantic error, in the API's words."""
    kind = error["type"]
    given = error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    match kind:
        case "missing":
            return "missing"
        case "extra_forbidden":
            return "unknown field"
        case "int_type":
            return f"expected an integer, got {json_type(given)}"
        case "bool_type":
            return f"expected true or false, got {json_type(given)}"
        case "string_type":
            return f"expected a string, got {json_type(given)}"
        case "list_type" | "tuple_type":
            return f"expected an array, got {json_type(given)}"
        case "model_type" | "dict_type" | "model_attributes_type":
            return f"expected an object, got {json_type(given)}"
        case "literal_error":
            return f"expected {ctx.get('expected')}, got {_shown(given)}"
        case "too_long":
            unit = "characters" if isinstance(given, str) else "items"
            return f"at most {ctx.get('max_length')} {unit}, got {ctx.get('actual_length')}"
        case "too_short":
            unit = "characters" if isinstance(given, str) else "items"
            return f"at least {ctx.get('min_length')} {unit}, got {ctx.get('actual_length')}"
        case "string_too_long":
            return f"at most {ctx.get('max_length')} characters"
        case "string_too_short":
            return f"at least {ctx.get('min_length')} characters"
        case "value_error" | "assertion_error":
            return str(ctx.get("error", error["msg"]))
        case _:
            msg = error["msg"]
            return msg[:1].lower() + msg[1:]


def _shown(value: object) -> str:
    if isinstance(value, str):
        return repr(shorten(value))
    return json_type(value)


def first_error(error: ValidationError, prefix: str = "") -> tuple[str, str]:
    """(field path, "<path>: <problem>") of the first problem, noting how many more there are."""
    errors = error.errors(include_url=False)
    first = errors[0]
    path = field_path(first["loc"], prefix)
    message = f"{path}: {describe(first)}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return path, message


BodyT = TypeVar("BodyT", bound=BaseModel)


def parse_body(model: type[BodyT], value: object) -> BodyT:
    """Validate a decoded JSON value; a 400 naming the first offending field otherwise."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        _path, message = first_error(error)
        raise ApiError(400, Code.INVALID_INPUT, message) from None
