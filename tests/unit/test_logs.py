from __future__ import annotations

import io
import json
import logging
import sqlite3
import sys
from collections.abc import Iterator

import django.db.utils
import psycopg.errors
import pytest

from missedmail.logs import (
    ConsoleFormatter,
    KeyValueJsonFormatter,
    configure_logging,
    fields,
)

SECRET = "the ghost walks at midnight"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def record(message: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("missedmail.test", level, __file__, 1, message, args, None)


def failing_record(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        exc_info = sys.exc_info()
    entry = record("action=batch_failed user_id=%d", 10, level=logging.ERROR)
    entry.exc_info = exc_info
    return entry


def test_a_json_line_has_the_stable_keys_then_each_pair_with_its_type() -> None:
    line = KeyValueJsonFormatter().format(
        record(
            "action=email_sent email_id=%d user_id=%d delay_seconds=%.1f owner=%s code=%s",
            7,
            10,
            2.5,
            "host:1:a",
            None,
        )
    )

    entry = json.loads(line)
    assert list(entry)[:3] == ["ts", "level", "logger"]
    assert entry["ts"].endswith("+00:00")
    assert (entry["level"], entry["logger"]) == ("info", "missedmail.test")
    assert entry["action"] == "email_sent"
    assert (entry["email_id"], entry["user_id"], entry["delay_seconds"]) == (7, 10, 2.5)
    assert (entry["owner"], entry["code"]) == ("host:1:a", None)
    assert entry["msg"].startswith("action=email_sent email_id=7")


def test_pairs_cannot_overwrite_the_stable_keys_and_the_first_occurrence_wins() -> None:
    entry = json.loads(
        KeyValueJsonFormatter().format(record("action=a level=low msg=x action=b user_id=1"))
    )

    assert entry["level"] == "info"
    assert entry["action"] == "a"
    assert entry["msg"] == "action=a level=low msg=x action=b user_id=1"


def test_quoted_values_stay_strings() -> None:
    assert fields("a=\"12\" b='two words' c=12 d=True") == {
        "a": "12",
        "b": "two words",
        "c": 12,
        "d": True,
    }


def test_the_text_of_an_arbitrary_exception_is_withheld_but_its_type_and_place_are_kept() -> None:
    entry = json.loads(KeyValueJsonFormatter().format(failing_record(ValueError(SECRET))))

    assert entry["exc_type"] == "ValueError"
    assert "ValueError: (text withheld" in entry["exc"]
    assert "test_logs.py" in entry["exc"]
    assert SECRET not in json.dumps(entry)


def test_the_text_of_an_infrastructure_error_is_kept() -> None:
    entry = json.loads(
        KeyValueJsonFormatter().format(failing_record(ConnectionRefusedError(111, "refused")))
    )

    assert entry["exc_type"] == "ConnectionRefusedError"
    assert "[Errno 111] refused" in entry["exc"]


@pytest.mark.parametrize("module", ["psycopg", "django"])
def test_only_the_first_line_of_a_database_error_is_kept_the_row_it_quotes_is_not(
    module: str,
) -> None:
    text = (
        'new row for relation "core_message" violates check constraint "stream_has_topic"\n'
        f"DETAIL:  Failing row contains (7, {SECRET}).\n"
        f'CONTEXT:  COPY core_message, line 1: "7\t{SECRET}"'
    )
    error = (
        psycopg.errors.CheckViolation(text)
        if module == "psycopg"
        else django.db.utils.IntegrityError(text)
    )
    entry = failing_record(error)

    lines = KeyValueJsonFormatter().format(entry) + ConsoleFormatter().format(entry)

    assert 'violates check constraint \\"stream_has_topic\\" (details withheld' in lines
    assert 'violates check constraint "stream_has_topic" (details withheld' in lines
    assert SECRET not in lines


def test_a_one_line_database_error_is_kept_whole() -> None:
    entry = json.loads(
        KeyValueJsonFormatter().format(
            failing_record(sqlite3.OperationalError("database is locked"))
        )
    )

    assert entry["exc"].endswith("sqlite3.OperationalError: database is locked")


def test_a_chained_exception_withholds_the_text_of_both() -> None:
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as error:
            raise RuntimeError(f"while reading {SECRET}") from error
    except RuntimeError:
        exc_info = sys.exc_info()
    entry = record("action=batch_failed", level=logging.ERROR)
    entry.exc_info = exc_info

    text = KeyValueJsonFormatter().format(entry) + ConsoleFormatter().format(entry)

    assert "KeyError: (text withheld" in text
    assert "RuntimeError: (text withheld" in text
    assert SECRET not in text


def test_the_console_line_is_the_message_after_time_level_and_logger() -> None:
    line = ConsoleFormatter().format(record("action=worker_started name=%s", "host:1:a"))

    assert line[8:] == " INFO    missedmail.test: action=worker_started name=host:1:a"


def test_json_lines_are_chosen_when_standard_error_is_not_a_terminal(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)

    logging.getLogger("missedmail.test").info("action=probe count=%d", 3)
    logging.getLogger("missedmail.test").debug("action=hidden")

    [line] = stream.getvalue().splitlines()
    assert json.loads(line)["count"] == 3


def test_readable_coloured_lines_are_chosen_on_a_terminal(restore_logging: None) -> None:
    stream = Terminal()
    configure_logging("DEBUG", stream=stream)

    logging.getLogger("missedmail.test").warning("action=probe count=%d", 3)

    line = stream.getvalue()
    assert "\033[33mWARNING\033[0m missedmail.test: action=probe count=3" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_json_lines_can_be_forced_on_a_terminal(restore_logging: None) -> None:
    stream = Terminal()
    configure_logging("INFO", json_lines=True, stream=stream)

    logging.getLogger("missedmail.test").info("action=probe")

    assert json.loads(stream.getvalue())["action"] == "probe"


def test_an_unknown_level_is_a_value_error(restore_logging: None) -> None:
    with pytest.raises(ValueError, match="LOUD"):
        configure_logging("LOUD", stream=io.StringIO())
