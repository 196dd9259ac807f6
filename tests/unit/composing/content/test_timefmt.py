"""`<time>` values for the reader, and what happens to values that are not times."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from django.utils import translation

from missedmail.composing.content import message_html
from missedmail.composing.content.timefmt import format_time, parse_time_value
from tests.unit.composing.content.readers import reader

THEN = datetime(2025, 9, 30, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "twenty_four_hour_time", "shown"),
    [
        ("", False, "Tue, Sep 30, 2025, 4:30 PM UTC"),
        ("", True, "Tue, Sep 30, 2025, 16:30 UTC"),
        ("Europe/Berlin", False, "Tue, Sep 30, 2025, 6:30 PM CEST"),
        ("America/Los_Angeles", True, "Tue, Sep 30, 2025, 9:30 PDT"),
        ("Pacific/Auckland", False, "Wed, Oct 1, 2025, 5:30 AM NZDT"),
        ("Asia/Dubai", False, "Tue, Sep 30, 2025, 8:30 PM +04"),
    ],
)
def test_a_time_is_formatted_in_the_readers_zone_and_clock(
    timezone: str, twenty_four_hour_time: bool, shown: str
) -> None:
    assert format_time(THEN, timezone, twenty_four_hour_time) == shown


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "../../etc/passwd", "not a zone"])
def test_an_unknown_zone_is_utc(timezone: str) -> None:
    assert format_time(THEN, timezone, False) == "Tue, Sep 30, 2025, 4:30 PM UTC"


def test_midnight_and_noon_on_the_12_hour_clock() -> None:
    midnight = datetime(2025, 1, 5, 0, 5, tzinfo=UTC)
    noon = datetime(2025, 1, 5, 12, 0, tzinfo=UTC)
    assert format_time(midnight, "", False) == "Sun, Jan 5, 2025, 12:05 AM UTC"
    assert format_time(noon, "", False) == "Sun, Jan 5, 2025, 12:00 PM UTC"


def test_an_instant_that_cannot_be_shown_in_the_zone_is_none() -> None:
    assert format_time(datetime(1, 1, 1, 0, 0, tzinfo=UTC), "America/New_York", False) is None


@pytest.mark.parametrize(
    "value",
    [
        "2025-09-30T16:30:00Z",
        "2025-09-30T16:30:00",  # no offset: UTC
        "2025-09-30 18:30+02:00",
        "1759249800",
        " 1759249800.0 ",
    ],
)
def test_time_values_are_iso_8601_or_epoch_seconds(value: str) -> None:
    assert parse_time_value(value) == THEN


@pytest.mark.parametrize("value", ["", "teatime", "2025-13-01", "nan", "1e400", "inf"])
def test_other_time_values_are_not_times(value: str) -> None:
    assert parse_time_value(value) is None


def test_an_unparseable_time_element_is_left_as_is_and_logged_without_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rendered = '<p><time datetime="secret-plan-7">secret plan 7</time></p>'
    with caplog.at_level(logging.WARNING):
        shown = message_html("", rendered, reader("Europe/Oslo"))
    assert shown == rendered
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "action=bad_time_value")
    ]


def test_an_unparseable_time_in_markdown_is_left_as_is_and_logged_without_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        shown = message_html("meet at <time:secret-plan-8>", None, reader("Europe/Oslo"))
    assert shown == "<p>meet at &lt;time:secret-plan-8&gt;</p>"
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "action=bad_time_value")
    ]


@pytest.mark.parametrize(
    ("language", "twenty_four_hour_time", "shown"),
    [
        ("de", True, "Di., 30. September 2025, 18:30 CEST"),
        ("de", False, "Di., 30. September 2025, 6:30 PM CEST"),
        ("fr", True, "mardi 30 septembre 2025 à 18:30 CEST"),
        ("fr", False, "mardi 30 septembre 2025 à 6:30 PM CEST"),
        ("es", True, "martes, 30 de septiembre de 2025, 18:30 CEST"),
        ("es", False, "martes, 30 de septiembre de 2025, 6:30 p.\u00a0m. CEST"),
    ],
)
def test_a_time_is_formatted_in_the_active_language(
    language: str, twenty_four_hour_time: bool, shown: str
) -> None:
    with translation.override(language):
        assert format_time(THEN, "Europe/Berlin", twenty_four_hour_time) == shown


def test_a_time_in_the_hour_a_dst_change_repeats_keeps_its_zone_name() -> None:
    # 05:30 UTC on 2 Nov 2025 is 01:30 EDT, and 06:30 UTC is 01:30 EST: both exist.
    first = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)
    second = datetime(2025, 11, 2, 6, 30, tzinfo=UTC)
    assert format_time(first, "America/New_York", True) == "Sun, Nov 2, 2025, 1:30 EDT"
    assert format_time(second, "America/New_York", True) == "Sun, Nov 2, 2025, 1:30 EST"
