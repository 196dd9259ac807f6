"""What rendering one message for one reader depends on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RenderContext:
    realm_url: str  # e.g. "https://chat.example.com" (no trailing slash)
    timezone: str  # the reader's IANA zone; "" = UTC
    twenty_four_hour_time: bool
    # Lower-cased stream name → id, for `#**stream**` links; see referenced_stream_names.
    stream_ids: Mapping[str, int] = field(default_factory=dict)
    # The email's language (one of composing.languages.EMAIL_LANGUAGES): the spoiler note
    # and the format of times are translated.
    language: str = "en"


# What a rendering read of its reader, besides the realm and the linked streams (which every
# rendering is keyed by): the cache in `missedmail.composing.content` keys a rendering by
# these only when it read them, so a message rendered for many readers is rendered once
# when it holds no `<time>` and no spoiler. Every use of the reader's timezone, clock or
# language in this package must say so here.
READS_TIME = "time"  # timezone, clock, and the language of the time's format
READS_LANGUAGE = "language"  # a translated string

_reads: ContextVar[set[str] | None] = ContextVar("reader_reads", default=None)


def reads_reader(what: str) -> None:
    """Note that the rendering in progress depends on the reader's `what`."""
    recording = _reads.get()
    if recording is not None:
        recording.add(what)


@contextmanager
def recording_reader_reads() -> Iterator[set[str]]:
    """The set of what the renderings inside the block read of their reader."""
    recording: set[str] = set()
    token = _reads.set(recording)
    try:
        yield recording
    finally:
        _reads.reset(token)
