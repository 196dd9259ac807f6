"""`<time>` values shown in the reader's timezone and 12/24-hour preference.

Formatted by hand rather than with `strftime`: `%a`/`%b` follow the process locale and
`%-d` is not portable; the email must read the same on every host."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_time_value(value: str) -> datetime | None:
    """An ISO 8601 date-time (without an offset: UTC) or seconds since the epoch, as the
    chat dialect's `<time:…>` accepts; None when it is neither."""
    text = value.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def utc_iso(when: datetime) -> str:
    """The `datetime` attribute Zulip writes: UTC with a `Z`."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=512)
def reader_zone(name: str) -> tzinfo:
    """The reader's zone; an empty or unknown name is UTC (an email is still sent)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def format_time(when: datetime, timezone: str, twenty_four_hour_time: bool) -> str | None:
    """ "Tue, Sep 30, 2025, 4:30 PM UTC" (24-hour: "Tue, Sep 30, 2025, 16:30 UTC"); None when
    the instant cannot be shown in that zone (the first and last days of year 1 and 9999)."""
    try:
        local = when.astimezone(reader_zone(timezone))
    except (OverflowError, ValueError):
        return None
    if twenty_four_hour_time:
        clock = f"{local.hour}:{local.minute:02d}"
    else:
        hour = local.hour % 12 or 12
        clock = f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    date = f"{_WEEKDAYS[local.weekday()]}, {_MONTHS[local.month - 1]} {local.day}, {local.year}"
    return f"{date}, {clock} {local.tzname() or 'UTC'}"
