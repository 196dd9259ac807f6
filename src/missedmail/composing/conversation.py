"""What an email says about its conversation: title, link, thread root, and whose names
it lists (behaviour §4.6, §4.9).

When content is hidden the email must not reveal who wrote or what the topic is, so the
link is built from ids only (a 1:1 DM link otherwise carries the sender's name, a topic
link the topic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from missedmail.composing import narrow
from missedmail.composing.buckets import Bucket, ConversationKind
from missedmail.composing.names import join_names
from missedmail.composing.reader import Reader
from missedmail.composing.subject import direct_title, group_direct_title, stream_title
from missedmail.composing.thread_roots import direct_root, group_direct_root, stream_root
from missedmail.composing.topics import TopicDisplay, topic_display
from missedmail.core.models import Message, UserProfile


@dataclass(frozen=True)
class ConversationView:
    kind: ConversationKind
    title: str  # the subject before the realm-name suffix, when content is shown
    link: str
    thread_root: str
    show_sender_names: bool  # stream messages and group DMs name their senders
    stream_name: str | None = None
    topic: TopicDisplay | None = None


def describe_conversation(
    bucket: Bucket, reader: Reader, people: Mapping[int, UserProfile]
) -> ConversationView:
    message = bucket.representative
    match bucket.kind:
        case ConversationKind.STREAM:
            return _stream_view(message, reader)
        case ConversationKind.GROUP_DIRECT:
            return _group_direct_view(message, reader, people)
    return _direct_view(message, reader, people)


def _stream_view(message: Message, reader: Reader) -> ConversationView:
    stream = message.stream
    if stream is None:
        raise ValueError(f"message {message.id} is not a stream message")
    topic = topic_display(message.topic)
    if reader.show_content:
        link = narrow.topic_narrow(
            reader.realm_url, stream.id, stream.name, message.topic, message.id
        )
    else:
        link = f"{narrow.stream_narrow(reader.realm_url, stream.id, stream.name)}/near/{message.id}"
    return ConversationView(
        kind=ConversationKind.STREAM,
        title=stream_title(stream.name, topic.name, resolved=topic.resolved),
        link=link,
        thread_root=stream_root(stream.id, message.topic, reader.realm_host),
        show_sender_names=True,
        stream_name=stream.name,
        topic=topic,
    )


def _group_direct_view(
    message: Message, reader: Reader, people: Mapping[int, UserProfile]
) -> ConversationView:
    conversation = message.conversation
    if conversation is None:
        raise ValueError(f"message {message.id} is not a direct message")
    others = sorted(set(conversation.participant_ids()) - {reader.user.id})
    names = [people[user_id].full_name for user_id in others if user_id in people]
    return ConversationView(
        kind=ConversationKind.GROUP_DIRECT,
        title=group_direct_title(join_names(names)),
        link=narrow.group_dm_narrow(reader.realm_url, others),
        thread_root=group_direct_root(conversation.id, reader.realm_host),
        show_sender_names=True,
    )


def _direct_view(
    message: Message, reader: Reader, people: Mapping[int, UserProfile]
) -> ConversationView:
    if message.conversation_id is None:
        raise ValueError(f"message {message.id} is not a direct message")
    sender_name = people[message.sender_id].full_name
    if reader.show_content:
        link = narrow.dm_narrow(reader.realm_url, message.sender_id, sender_name)
    else:
        link = f"{reader.realm_url}/#narrow/dm/{message.sender_id}"
    return ConversationView(
        kind=ConversationKind.DIRECT,
        title=direct_title(sender_name),
        link=link,
        thread_root=direct_root(message.conversation_id, message.sender_id, reader.realm_host),
        show_sender_names=False,
    )


def listed_sender_ids(bucket: Bucket, *, mention: bool) -> list[int]:
    """Whose names the email lists, in order of their first message: when the email is
    about a mention, only those who mentioned the reader; otherwise everyone shown."""
    if mention:
        mentioning = sorted(
            (item.message for item in bucket.notified if item.trigger.is_mention),
            key=lambda message: (message.date_sent, message.id),
        )
        ordered = [message.sender_id for message in mentioning]
    else:
        ordered = [message.sender_id for message in bucket.messages()]
    return list(dict.fromkeys(ordered))
