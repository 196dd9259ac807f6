from __future__ import annotations

from missedmail.composing.mentions import GroupInfo, MentionSummary, summarise_mentions
from missedmail.composing.reasons import reason_line
from missedmail.events import Trigger
from tests.unit.composing.messages import notified, stream_msg

GROUPS = {
    1: GroupInfo(1, "big", 9),
    2: GroupInfo(2, "small", 2),
    3: GroupInfo(3, "also small", 2),
}


def test_a_personal_mention_hides_any_group() -> None:
    summary = summarise_mentions(
        [
            notified(stream_msg(1), Trigger.MENTIONED, group=2),
            notified(stream_msg(2), Trigger.MENTIONED),
        ],
        GROUPS,
    )

    assert summary.personal_mentioned
    assert summary.group_name is None
    assert summary.mention


def test_the_smallest_group_wins_and_ties_go_to_the_earliest_message() -> None:
    summary = summarise_mentions(
        [
            notified(stream_msg(3), Trigger.MENTIONED, group=2),
            notified(stream_msg(1), Trigger.MENTIONED, group=1),
            notified(stream_msg(2), Trigger.MENTIONED, group=3),
        ],
        GROUPS,
    )

    assert summary.group_name == "also small"


def test_a_group_that_no_longer_exists_is_ignored() -> None:
    summary = summarise_mentions([notified(stream_msg(1), Trigger.MENTIONED, group=99)], GROUPS)

    assert summary.group_name is None
    assert not summary.personal_mentioned


def test_stream_email_notifications_are_not_mentions() -> None:
    summary = summarise_mentions(
        [
            notified(stream_msg(1), Trigger.STREAM_EMAIL_NOTIFY),
            notified(stream_msg(2), Trigger.FOLLOWED_TOPIC_EMAIL_NOTIFY),
        ],
        GROUPS,
    )

    assert not summary.mention


def summary(*triggers: Trigger, group_name: str | None = None) -> MentionSummary:
    return MentionSummary(
        triggers=frozenset(triggers),
        mention=any(t.is_mention for t in triggers),
        personal_mentioned=False,
        group_name=group_name,
    )


def test_a_group_reason_needs_a_mention_trigger() -> None:
    assert reason_line(summary(Trigger.MENTIONED, group_name="team"), "Denmark", "t") == (
        "You are receiving this because @team was mentioned."
    )
    assert reason_line(summary(Trigger.STREAM_EMAIL_NOTIFY, group_name="team"), "Denmark", "t") == (
        "You are receiving this because you have email notifications enabled for #Denmark."
    )


def test_a_topic_wildcard_reason_leaves_the_topic_out_when_content_is_hidden() -> None:
    assert reason_line(summary(Trigger.TOPIC_WILDCARD_MENTIONED), "Denmark", None) == (
        "You are receiving this because all topic participants were mentioned in #Denmark."
    )


def test_a_mention_entry_without_a_known_group_gives_no_reason() -> None:
    assert reason_line(summary(Trigger.MENTIONED), "Denmark", "t") is None
