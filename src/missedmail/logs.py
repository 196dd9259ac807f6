"""Logging set up once per process, from the CLI.

Log lines are `action=... key=value` messages (ids, counts, durations — never message
content). On a terminal they are printed as they are; otherwise each line is one JSON
object whose keys are the message's `key=value` pairs plus time, level and logger, so log
pipelines can filter on `action` without parsing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_PAIR = re.compile(r"(\w+)=(\"[^\"]*\"|'[^']*'|\S+)")


class KeyValueJsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in _PAIR.findall(message):
            entry.setdefault(key, value.strip("\"'"))
        entry["msg"] = message
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_lines: bool | None = None) -> None:
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        KeyValueJsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
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
