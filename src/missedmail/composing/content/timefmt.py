"""`<time>` values shown in the reader's timezone, 12/24-hour preference and language.

Formatted with Django's `dateformat` under the email's language rather than with
`strftime`, whose `%a`/`%b` follow the process locale: the email must read the same on
every host. The order of the parts is itself translated (a German reader expects
"Di., 30. September 2025, 16:30 UTC"), as a pattern of Django's date format characters.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.dateformat import DateFormat
from django.utils.translation import gettext, pgettext

from missedmail.composing.content.context import READS_TIME, reads_reader


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


class _LocalTimeFormat(DateFormat):
    """Django's date format, with two characters of our own.

    `T`: Django's is empty for a time that a DST change makes ambiguous (it declines to
    guess); ours is already resolved to one instant, whose zone name is known.
    `A`: Django's catalogues translate AM/PM as words for the morning and the afternoon in
    some languages ("Matin" in French); ours are the clock's markers.
    """

    # Django names its formatters by their format character.
    def T(self) -> str:
        name = self.data.tzname() if isinstance(self.data, datetime) else None
        return name or "UTC"

    def A(self) -> str:
        if isinstance(self.data, datetime | time) and self.data.hour < 12:
            return pgettext("12-hour clock", "AM")
        return pgettext("12-hour clock", "PM")


def time_pattern(twenty_four_hour_time: bool) -> str:
    """The active language's pattern (Django's date format characters)."""
    if twenty_four_hour_time:
        # Translators: how a time mentioned in a message is shown to a reader who uses the
        # 24-hour clock, in Django's date format (D weekday, M month, j day, Y year, G hour,
        # i minutes, T zone; l and F are the full weekday and month; escape letters as \x).
        # English: "Tue, Sep 30, 2025, 16:30 UTC".
        return gettext("D, M j, Y, G:i T")
    # Translators: the same for the 12-hour clock (g hour 1-12, A AM/PM).
    # English: "Tue, Sep 30, 2025, 4:30 PM UTC".
    return gettext("D, M j, Y, g:i A T")


def format_time(when: datetime, timezone: str, twenty_four_hour_time: bool) -> str | None:
    """ "Tue, Sep 30, 2025, 4:30 PM UTC" (24-hour: "Tue, Sep 30, 2025, 16:30 UTC") in the
    active language; None when the instant cannot be shown in that zone (the first and
    last days of year 1 and 9999)."""
    reads_reader(READS_TIME)
    try:
        local = when.astimezone(reader_zone(timezone))
    except (OverflowError, ValueError):
        return None
    return str(_LocalTimeFormat(local).format(time_pattern(twenty_four_hour_time)))
