"""Context for mentions (behaviour §4.4) and its effect on ordering (§4.5)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from missedmail.core.models import Message, Stream, UserProfile
from tests.db.composing.batches import compose, entry, only_email, text_lines
from tests.factories import Org, stream_message

pytestmark = pytest.mark.django_db

MENTION_AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def earlier(
    org: Org,
    message_id: int,
    minutes_before: float,
    *,
    topic: str = "test",
    stream: Stream | None = None,
    readers: list[UserProfile] | None = None,
    flags: dict[int, Iterable[str]] | None = None,
    content: str | None = None,
) -> Message:
    return stream_message(
        org.othello,
        stream or org.denmark,
        topic,
        content or f"context {message_id}",
        readers if readers is not None else [org.hamlet, org.othello],
        message_id=message_id,
        date_sent=MENTION_AT - timedelta(minutes=minutes_before),
        flags=flags,
    )


def mention(org: Org, message_id: int = 100, *, flag: str = "mentioned") -> Message:
    return stream_message(
        org.iago,
        org.denmark,
        "test",
        "the mention",
        [org.hamlet, org.iago],
        message_id=message_id,
        date_sent=MENTION_AT,
        flags={10: [flag]},
    )


def shown_contents(org: Org, *messages: Message, trigger: str = "mentioned") -> list[str]:
    email = only_email(org.hamlet, *(entry(m, trigger) for m in messages))
    return [line[2:] for line in text_lines(email) if line.startswith("> ")]


def test_a_mention_brings_earlier_messages_of_its_topic_in_date_order(org: Org) -> None:
    earlier(org, 10, 5)
    earlier(org, 11, 2)

    assert shown_contents(org, mention(org)) == ["context 10", "context 11", "the mention"]


@pytest.mark.parametrize(
    "flag", ["stream_wildcard_mentioned", "topic_wildcard_mentioned", "group_mentioned"]
)
def test_any_mention_flag_brings_context(org: Org, flag: str) -> None:
    earlier(org, 10, 1)

    assert shown_contents(org, mention(org, flag=flag))[0] == "context 10"


def test_context_is_at_most_the_ten_newest_earlier_messages(org: Org) -> None:
    for number in range(12):
        earlier(org, 10 + number, 12 - number)  # 10 is the oldest, 21 the newest

    shown = shown_contents(org, mention(org))

    assert shown == [f"context {n}" for n in range(12, 22)] + ["the mention"]


def test_context_reaches_back_fifteen_minutes_and_no_further(org: Org) -> None:
    earlier(org, 10, 15)  # exactly 15 minutes before: outside the window
    earlier(org, 11, 14.9)

    assert shown_contents(org, mention(org))[:-1] == ["context 11"]


def test_context_matches_the_topic_case_insensitively_and_nothing_else(org: Org) -> None:
    earlier(org, 10, 3, topic="TEST")
    earlier(org, 11, 2, topic="other topic")
    earlier(org, 12, 1, stream=org.verona)

    assert shown_contents(org, mention(org))[:-1] == ["context 10"]


def test_context_only_includes_messages_the_reader_received_but_may_include_read_ones(
    org: Org,
) -> None:
    earlier(org, 10, 3, readers=[org.othello])
    earlier(org, 11, 2, flags={10: ["read"]})

    assert shown_contents(org, mention(org))[:-1] == ["context 11"]


def test_context_leaves_out_messages_whose_content_was_deleted(org: Org) -> None:
    earlier(org, 10, 3, content="(deleted)")
    earlier(org, 11, 2)

    assert shown_contents(org, mention(org))[:-1] == ["context 11"]


def test_there_is_no_context_without_a_mention_flag_on_the_earliest_message(org: Org) -> None:
    earlier(org, 10, 3)
    plain = stream_message(
        org.iago, org.denmark, "test", "plain", [org.hamlet], message_id=100, date_sent=MENTION_AT
    )
    later_mention = stream_message(
        org.iago,
        org.denmark,
        "test",
        "mention",
        [org.hamlet],
        message_id=101,
        date_sent=MENTION_AT + timedelta(minutes=1),
        flags={10: ["mentioned"]},
    )

    email = only_email(
        org.hamlet, entry(plain, "stream_email_notify"), entry(later_mention, "mentioned")
    )

    assert [line for line in text_lines(email) if line.startswith("> ")] == ["> plain", "> mention"]


def test_context_is_shown_but_not_counted_among_the_notified_messages(org: Org) -> None:
    earlier(org, 10, 3)
    notified = mention(org)

    email = only_email(org.hamlet, entry(notified, "mentioned"))

    assert email.message_ids == (100,)
    assert email.reply_to_message_id is None
    assert "1 new message, with mentions by Iago" in email.html


def test_a_notified_message_inside_the_window_is_shown_once(org: Org) -> None:
    also_notified = earlier(org, 10, 3, flags={10: ["mentioned"]})
    notified = mention(org)

    email = only_email(org.hamlet, entry(also_notified, "mentioned"), entry(notified, "mentioned"))

    assert [line for line in text_lines(email) if line.startswith("> ")] == [
        "> context 10",
        "> the mention",
    ]
    assert email.message_ids == (10, 100)


def test_emails_are_ordered_by_their_newest_message_not_their_first(org: Org) -> None:
    # Denmark starts first (id 90) but its newest message (id 120) is newer than
    # Verona's only one (id 100): Verona is the less recently active conversation.
    first = stream_message(org.othello, org.denmark, "test", "a", [org.hamlet], message_id=90)
    last = stream_message(org.othello, org.denmark, "test", "c", [org.hamlet], message_id=120)
    verona = stream_message(org.othello, org.verona, "v", "b", [org.hamlet], message_id=100)

    batch = compose(org.hamlet, *(entry(m, "stream_email_notify") for m in (first, last, verona)))

    assert [email.subject for email in batch.emails] == ["#Verona > v", "#Denmark > test"]
