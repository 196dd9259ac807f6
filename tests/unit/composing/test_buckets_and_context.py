from __future__ import annotations

from missedmail.composing.buckets import (
    Bucket,
    BucketKey,
    ConversationKind,
    bucket_key,
    group_into_buckets,
    in_sending_order,
)
from missedmail.composing.context import MAX_CONTEXT_MESSAGES, choose_context, context_anchor
from missedmail.core.models import UserMessageFlag
from missedmail.events import Trigger
from tests.unit.composing.messages import direct_msg, notified, stream_msg


def test_one_to_one_dms_are_keyed_by_conversation_and_sender() -> None:
    assert bucket_key(direct_msg(1, [10, 11], sender_id=11)) == BucketKey(
        ConversationKind.DIRECT, 5, 11, None
    )
    assert bucket_key(direct_msg(2, [10], sender_id=10)) == BucketKey(
        ConversationKind.DIRECT, 5, 10, None
    )


def test_group_dms_are_keyed_by_conversation_alone() -> None:
    by_othello = bucket_key(direct_msg(1, [10, 11, 12], sender_id=11))
    by_iago = bucket_key(direct_msg(2, [10, 11, 12], sender_id=12))

    assert by_othello == by_iago == BucketKey(ConversationKind.GROUP_DIRECT, 5, None, None)


def test_stream_messages_are_keyed_by_stream_and_lowercased_topic() -> None:
    assert bucket_key(stream_msg(1, topic="Ärger")) == bucket_key(stream_msg(2, topic="äRGER"))
    assert bucket_key(stream_msg(1, topic="a")) != bucket_key(stream_msg(2, topic="a", stream_id=4))


def test_message_count_is_the_notified_messages_before_context() -> None:
    [bucket] = group_into_buckets([notified(stream_msg(5)), notified(stream_msg(6))])
    bucket.context = [stream_msg(4, minutes=-1)]

    assert bucket.message_count == 2
    assert [m.id for m in bucket.messages()] == [4, 5, 6]
    assert bucket.notified_ids == (5, 6)


def test_buckets_are_sent_by_their_newest_message() -> None:
    buckets = group_into_buckets(
        [
            notified(stream_msg(1, topic="a")),
            notified(stream_msg(2, topic="b")),
            notified(stream_msg(3, topic="a")),
        ]
    )

    assert [b.key.topic_key for b in in_sending_order(buckets)] == ["b", "a"]


def test_messages_of_a_bucket_are_shown_by_date_then_id() -> None:
    [bucket] = group_into_buckets(
        [
            notified(stream_msg(9, minutes=1)),
            notified(stream_msg(8, minutes=2)),
            notified(stream_msg(7, minutes=1)),
        ]
    )

    assert [m.id for m in bucket.messages()] == [7, 9, 8]


def mentioned_bucket(flag: int = UserMessageFlag.MENTIONED) -> Bucket:
    [bucket] = group_into_buckets(
        [notified(stream_msg(100, minutes=20), Trigger.MENTIONED, flags=flag)]
    )
    return bucket


def test_only_a_mention_flag_on_the_earliest_stream_message_anchors_context() -> None:
    assert context_anchor(mentioned_bucket()) is not None
    assert context_anchor(mentioned_bucket(UserMessageFlag.READ)) is None
    [dm_bucket] = group_into_buckets(
        [notified(direct_msg(1, [10, 11]), Trigger.DIRECT_MESSAGE, flags=UserMessageFlag.MENTIONED)]
    )
    assert context_anchor(dm_bucket) is None


def test_context_is_chosen_newest_first_up_to_the_limit_then_shown_by_date() -> None:
    bucket = mentioned_bucket()
    anchor = bucket.earliest.message
    candidates = [stream_msg(i, minutes=20 - (100 - i) * 0.5) for i in range(80, 100)]

    chosen = choose_context(bucket, anchor, candidates)

    assert chosen == list(range(99, 99 - MAX_CONTEXT_MESSAGES, -1))


def test_context_excludes_other_topics_streams_later_ids_and_old_messages() -> None:
    bucket = mentioned_bucket()
    anchor = bucket.earliest.message
    candidates = [
        stream_msg(90, topic="TEST", minutes=19),  # kept: same topic, any case
        stream_msg(91, topic="other", minutes=19),
        stream_msg(92, stream_id=4, minutes=19),
        stream_msg(101, minutes=19),  # a higher id is not earlier
        stream_msg(93, minutes=5),  # exactly 15 minutes before: outside
        stream_msg(94, minutes=5.01),  # kept
        stream_msg(90, topic="TEST", minutes=19),  # the same message twice
    ]

    assert choose_context(bucket, anchor, candidates) == [90, 94]
