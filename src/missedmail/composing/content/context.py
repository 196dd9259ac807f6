"""What rendering one message for one reader depends on."""

from __future__ import annotations

from collections.abc import Mapping
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
