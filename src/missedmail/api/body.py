"""Reading a request body as JSON, refusing what is not (contract §4).

Limits, each with its own error: 413 over 10 MiB (checked from Content-Length before reading,
and by Django while reading), 415 for a declared non-JSON type, 400 for bytes that are not
UTF-8 JSON, for duplicate keys (which value would win is parser-dependent), for NaN and
Infinity (not JSON) and for nesting deeper than any request needs.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from missedmail.api.responses import ApiError, Code
from missedmail.events import json_type

MAX_BODY_BYTES = 10 * 1024 * 1024
# The deepest valid body is {"messages": [{"recipients": [{"flags": ["read"]}]}]}: depth 6.
MAX_NESTING_DEPTH = 16
JSON_CONTENT_TYPES = frozenset({"application/json", ""})


def too_large() -> ApiError:
    return ApiError(413, Code.REQUEST_TOO_LARGE, f"body: larger than {MAX_BODY_BYTES} bytes")


def declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def json_body(request: HttpRequest) -> object:
    """The decoded JSON value of the body, or an `ApiError`."""
    content_type = (request.content_type or "").lower()
    if content_type not in JSON_CONTENT_TYPES and not content_type.endswith("+json"):
        raise ApiError(
            415,
            Code.UNSUPPORTED_MEDIA_TYPE,
            f"body: expected Content-Type application/json, got {content_type[:100]}",
        )
    if declared_length(request) > MAX_BODY_BYTES:
        raise too_large()
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large() from None
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    if not raw.strip():
        raise ApiError(400, Code.INVALID_JSON, "body: empty; expected JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400, Code.INVALID_JSON, f"body: not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        value = json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse
        )
    except json.JSONDecodeError as error:
        raise ApiError(
            400,
            Code.INVALID_JSON,
            f"body: invalid JSON ({error.msg} at line {error.lineno} column {error.colno})",
        ) from None
    except _NotJson as error:
        raise ApiError(400, Code.INVALID_JSON, f"body: {error}") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise ApiError(400, Code.INVALID_JSON, f"body: invalid JSON ({error})") from None
    except RecursionError:
        raise _too_deep() from None
    if _depth_exceeds(value, MAX_NESTING_DEPTH):
        raise _too_deep()
    return value


class _NotJson(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            shown = key if len(key) <= 64 else key[:64] + "…"
            raise _NotJson(f"duplicate key {shown!r}")
        obj[key] = value
    return obj


def _refuse(constant: str) -> object:
    raise _NotJson(f"{constant} is not a JSON number")


def _too_deep() -> ApiError:
    return ApiError(400, Code.INVALID_JSON, f"body: nested deeper than {MAX_NESTING_DEPTH} levels")


def _depth_exceeds(value: object, limit: int) -> bool:
    # Iterative, a level at a time: the point is to refuse bodies that would blow the stack
    # further on. Only containers are carried to the next level, and each level's members
    # are gathered by C iterators: a batch of a thousand messages is some 40,000 containers
    # and 200,000 values, and a Python step per value showed in profiles.
    level = [value] if type(value) in _CONTAINERS else []
    depth = 1
    while level:
        if depth > limit:
            return True
        objects = [item for item in level if isinstance(item, dict)]
        arrays = [item for item in level if isinstance(item, list)]
        members = chain(chain.from_iterable(map(dict.values, objects)), chain.from_iterable(arrays))
        level = [member for member in members if type(member) in _CONTAINERS]
        depth += 1
    return False


# json.loads builds exactly these (no subclasses), so an exact type test suffices.
_CONTAINERS = frozenset({dict, list})


def json_object(request: HttpRequest) -> dict[str, object]:
    value = json_body(request)
    if not isinstance(value, dict):
        raise ApiError(
            400, Code.INVALID_INPUT, f"body: expected a JSON object, got {json_type(value)}"
        )
    return value
