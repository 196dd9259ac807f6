"""How a topic is shown: resolved topics lose their `✔ ` prefix, the empty topic has a
display name (behaviour §4.6)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

RESOLVED_TOPIC_PREFIX = "✔ "


@dataclass(frozen=True)
class TopicDisplay:
    name: str
    resolved: bool


def topic_display(topic: str) -> TopicDisplay:
    """The resolution prefix is stripped before the empty check, so a topic that is only
    the prefix shows as the empty topic rather than as nothing."""
    resolved = topic.startswith(RESOLVED_TOPIC_PREFIX)
    bare = topic[len(RESOLVED_TOPIC_PREFIX) :] if resolved else topic
    return TopicDisplay(name=bare or gettext("general chat"), resolved=resolved)
