"""The line that tells the reader why they got a stream email (behaviour §4.8 item 3).

DM emails carry no reason: a DM to you is its own reason.
"""

from __future__ import annotations

from django.utils.translation import gettext

from missedmail.composing.mentions import MentionSummary
from missedmail.events import Trigger


def reason_line(summary: MentionSummary, stream_name: str, topic_name: str | None) -> str | None:
    """The first matching reason, in the order of behaviour §4.8. `topic_name` is None when
    the email hides content: a topic name is content, so that reason then names only the
    stream."""
    triggers = summary.triggers
    if summary.personal_mentioned:
        return gettext("You are receiving this because you were personally mentioned.")
    if summary.mention and summary.group_name is not None:
        return gettext("You are receiving this because @%(group)s was mentioned.") % {
            "group": summary.group_name
        }
    if (
        Trigger.TOPIC_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC in triggers
        or Trigger.TOPIC_WILDCARD_MENTIONED in triggers
    ):
        if topic_name is None:
            return gettext(
                "You are receiving this because all topic participants were mentioned in "
                "#%(stream)s."
            ) % {"stream": stream_name}
        return gettext(
            "You are receiving this because all topic participants were mentioned in "
            "#%(stream)s > %(topic)s."
        ) % {"stream": stream_name, "topic": topic_name}
    if Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC in triggers:
        return gettext(
            "You are receiving this because you have wildcard mention notifications enabled "
            "for topics you follow."
        )
    if Trigger.STREAM_WILDCARD_MENTIONED in triggers:
        return gettext("You are receiving this because everyone was mentioned in #%(stream)s.") % {
            "stream": stream_name
        }
    if Trigger.FOLLOWED_TOPIC_EMAIL_NOTIFY in triggers:
        return gettext(
            "You are receiving this because you have email notifications enabled for topics "
            "you follow."
        )
    if Trigger.STREAM_EMAIL_NOTIFY in triggers:
        return gettext(
            "You are receiving this because you have email notifications enabled for #%(stream)s."
        ) % {"stream": stream_name}
    return None
