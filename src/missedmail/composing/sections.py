"""Everything an email says, decided once and already translated; the text and HTML
parts only lay it out (behaviour §4.7, §4.8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from missedmail.composing.content import RenderContext
from missedmail.composing.subject import single_line
from missedmail.core.models import Message, UserProfile


@dataclass(frozen=True)
class MessageBlock:
    """Consecutive messages of one sender. `sender_name` is None when the email does not
    name senders (1:1 DMs)."""

    sender_name: str | None
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class EmailSections:
    language: str
    subject: str
    heading: str  # the conversation, or "New messages" when content is hidden
    summary: str  # how many messages, and from whom when content is shown
    blocks: tuple[MessageBlock, ...]  # empty when content is hidden
    hidden_notice: str | None  # why there is no content, when it is hidden
    reason: str | None
    action: str  # "Reply in Zulip Dev:" and its variants
    link: str  # the conversation in the chat app
    link_label: str
    replies_not_read: str | None
    settings_label: str  # "Manage email preferences:", before the URL in the text part
    settings_link_label: str  # the same words as the HTML part's link text
    settings_url: str
    render: RenderContext


def sender_blocks(
    messages: Sequence[Message], people: Mapping[int, UserProfile], *, show_senders: bool
) -> tuple[MessageBlock, ...]:
    """`messages` in display order. Names go on one line of the text part, so they are
    made single-line here."""
    blocks = []
    for sender_id, run in groupby(messages, key=lambda message: message.sender_id):
        name = None
        if show_senders:
            sender = people.get(sender_id)
            name = single_line(sender.full_name) if sender is not None else str(sender_id)
        blocks.append(MessageBlock(sender_name=name, messages=tuple(run)))
    return tuple(blocks)
