"""Logging set up once per process, from the CLI.

Log lines are `action=... key=value` messages: ids, counts, durations and states, never
message content (style.md §13). Where they go:

- not a terminal (a service manager, a container, a file): one JSON object per line, with
  the stable keys `ts`, `level`, `logger`, then every `key=value` pair of the message as its
  own key (numbers as numbers, `None` as null), then `msg`, the message as written. Log
  pipelines filter on `action` and the ids without parsing text.
- a terminal: the message as written after the time, level and logger, levels coloured.

Exceptions: the traceback (files, lines, functions) and the exception's type are logged,
but the exception's text only for errors that describe infrastructure (network, database,
SMTP): the text of any other exception may quote the data it choked on, i.e. a message.
Of a database error, only the first line: PostgreSQL's DETAIL and CONTEXT lines quote the
row a statement failed on ("Failing row contains (...)", "COPY core_message, line 3: ..."),
which may be a message's content.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

_PAIR = re.compile(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S+)")
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d+\.\d+")
RESERVED_KEYS = ("ts", "level", "logger", "msg", "exc_type", "exc")

# Exceptions whose text describes the infrastructure, not the data: kept in the log.
SAFE_EXCEPTION_MODULES = ("socket", "ssl", "smtplib", "django.db", "psycopg", "sqlite3", "pika")
# Of these, only the first line is kept (see the module's docstring).
DATABASE_EXCEPTION_MODULES = ("django.db", "psycopg", "sqlite3")
WITHHELD = "(text withheld: it may quote message content)"
DETAILS_WITHHELD = " (details withheld: they may quote a row)"

_COLOURS = {
    "DEBUG": "\033[2m",
    "INFO": "\033[36m",
    "WARNING": "\033[33m",
    "ERROR": "\033[31m",
    "CRITICAL": "\033[1;31m",
}
_RESET = "\033[0m"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def parse_value(text: str) -> Any:
    """A `key=value` value as JSON: quotes stripped, integers and decimals as numbers,
    None/True/False as null/true/false, anything else as the string it is."""
    value = text.strip("\"'")
    if value != text:
        return value  # quoted: a string, even if it looks like a number
    if _INTEGER.fullmatch(value):
        return int(value)
    if _DECIMAL.fullmatch(value):
        return float(value)
    return {"None": None, "True": True, "False": False}.get(value, value)


def fields(message: str) -> dict[str, Any]:
    """The `key=value` pairs of a log message, first occurrence of each key winning."""
    found: dict[str, Any] = {}
    for key, value in _PAIR.findall(message):
        found.setdefault(key, parse_value(value))
    return found


def exception_text(exc_info: ExcInfo) -> str:
    """The traceback with each exception's type, and its text only when it is safe (see
    the module's docstring). Chained exceptions ("during handling ...") are included."""
    exc_type, error, tb = exc_info
    lines = ["Traceback (most recent call last):\n", *traceback.format_tb(tb)]
    lines.append(f"{_qualified_name(exc_type)}: {_safe_text(error)}")
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    if cause is not None:
        chained = exception_text((type(cause), cause, cause.__traceback__))
        return f"{chained}\n\nwhich led to:\n\n{''.join(lines)}"
    return "".join(lines)


def _qualified_name(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


def _safe_text(error: BaseException) -> str:
    module = type(error).__module__
    if module.startswith(DATABASE_EXCEPTION_MODULES):
        first, _, rest = str(error).partition("\n")
        return first + (DETAILS_WITHHELD if rest.strip() else "")
    if isinstance(error, OSError) or module.startswith(SAFE_EXCEPTION_MODULES):
        return str(error)
    return WITHHELD


class KeyValueJsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in fields(message).items():
            if key not in RESERVED_KEYS:
                entry[key] = value
        entry["msg"] = message
        if record.exc_info and record.exc_info[0] is not None:
            exc_info: Any = record.exc_info
            entry["exc_type"] = _qualified_name(record.exc_info[0])
            entry["exc"] = exception_text(exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    """`10:00:00 INFO    missedmail.outbox.sender: action=email_sent email_id=3 ...`"""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self._colour = colour

    def format(self, record: logging.LogRecord) -> str:
        # The base class would append the full traceback, exception text included.
        exc_info, exc_text = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text = exc_info, exc_text
        if self._colour and record.levelname in _COLOURS:
            line = line.replace(
                record.levelname, f"{_COLOURS[record.levelname]}{record.levelname}{_RESET}", 1
            )
        if exc_info and exc_info[0] is not None:
            error: Any = exc_info
            line += "\n" + exception_text(error)
        return line


def configure_logging(
    level: str = "INFO", *, json_lines: bool | None = None, stream: TextIO | None = None
) -> None:
    """Route every logger to `stream` (standard error): JSON lines unless it is a
    terminal, or as `json_lines` says. `ValueError` for an unknown level."""
    stream = stream or sys.stderr
    is_terminal = stream.isatty()
    if json_lines is None:
        json_lines = not is_terminal
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        KeyValueJsonFormatter() if json_lines else ConsoleFormatter(colour=is_terminal)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that are chatty at INFO about every connection.
    for noisy in ("waitress.queue", "aiosmtpd", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pika logs several ERROR lines for every failed connection attempt; the consumer logs
    # one line per outage itself (action=broker_unavailable).
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    # With DEBUG on, Django logs each SQL statement with its parameters: message content
    # and topics. Never, whatever the level.
    logging.getLogger("django.db.backends").setLevel(logging.INFO)
