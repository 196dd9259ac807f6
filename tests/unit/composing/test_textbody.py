from __future__ import annotations

from missedmail.composing.content import RenderContext
from missedmail.composing.sections import EmailSections, MessageBlock, sender_blocks
from missedmail.composing.textbody import quoted, text_body
from missedmail.core.models import UserProfile
from tests.unit.composing.messages import stream_msg

CTX = RenderContext(realm_url="https://chat.example.com", timezone="", twenty_four_hour_time=False)


def sections(
    blocks: tuple[MessageBlock, ...] = (),
    *,
    hidden_notice: str | None = None,
    reason: str | None = None,
    replies_not_read: str | None = None,
) -> EmailSections:
    return EmailSections(
        language="en",
        subject="s",
        heading="h",
        summary="",
        blocks=blocks,
        hidden_notice=hidden_notice,
        reason=reason,
        action="Reply in Zulip Dev:",
        link="https://chat.example.com/#narrow/x",
        link_label="Open",
        replies_not_read=replies_not_read,
        settings_label="Manage email preferences:",
        settings_link_label="Manage email preferences",
        settings_url="https://chat.example.com/#settings/notifications",
        render=CTX,
    )


def test_every_line_of_a_message_is_quoted_blank_ones_included() -> None:
    assert quoted("one\n\ntwo") == ["> one", "> ", "> two"]
    assert quoted("") == ["> "]


def test_consecutive_messages_of_one_sender_form_one_named_block() -> None:
    people = {11: UserProfile(id=11, full_name="Othello"), 12: UserProfile(id=12, full_name="Iago")}
    messages = [stream_msg(1), stream_msg(2), stream_msg(3, sender_id=12), stream_msg(4)]

    blocks = sender_blocks(messages, people, show_senders=True)

    assert [(b.sender_name, [m.id for m in b.messages]) for b in blocks] == [
        ("Othello", [1, 2]),
        ("Iago", [3]),
        ("Othello", [4]),
    ]


def test_sender_names_are_made_single_line_and_left_out_when_not_shown() -> None:
    people = {11: UserProfile(id=11, full_name="Evil\n> fake")}

    assert sender_blocks([stream_msg(1)], people, show_senders=True)[0].sender_name == "Evil > fake"
    assert sender_blocks([stream_msg(1)], people, show_senders=False)[0].sender_name is None


def test_the_text_body_lays_out_blocks_separator_reason_action_and_settings() -> None:
    blocks = (
        MessageBlock("Othello", (stream_msg(1, content="a"), stream_msg(2, content="b"))),
        MessageBlock("Iago", (stream_msg(3, content="d"),)),
    )

    body = text_body(sections(blocks, reason="Because.", replies_not_read="Not read."))

    assert body == (
        "Othello:\n> a\n> b\n\nIago:\n> d\n\n--\nBecause.\n\n"
        "Reply in Zulip Dev:\nhttps://chat.example.com/#narrow/x\nNot read.\n\n"
        "Manage email preferences:\nhttps://chat.example.com/#settings/notifications\n"
    )


def test_a_hidden_content_body_has_the_notice_instead_of_blocks() -> None:
    body = text_body(sections(hidden_notice="No content here."))

    assert body.startswith("No content here.\n\n--\nReply in Zulip Dev:\n")
