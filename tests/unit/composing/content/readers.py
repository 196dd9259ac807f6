"""Render contexts for the content tests: the factories' realm and a few readers."""

from __future__ import annotations

from missedmail.composing.content import RenderContext

REALM_URL = "https://chat.example.com"
EMOJI_IMAGES = f"{REALM_URL}/static/generated/emoji/images-google-64"
LINK = 'rel="noopener noreferrer"'
SPOILER_NOTE_HTML = (
    '<span class="spoiler-title">(Open the conversation to see the spoiler content)</span>'
)


def reader(
    timezone: str = "", *, twenty_four_hour_time: bool = False, realm_url: str = REALM_URL
) -> RenderContext:
    """A reader of realm 1; Denmark (3) and Verona (4) are its streams."""
    return RenderContext(
        realm_url=realm_url,
        timezone=timezone,
        twenty_four_hour_time=twenty_four_hour_time,
        stream_ids={"denmark": 3, "verona": 4},
    )
