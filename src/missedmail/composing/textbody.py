"""The text/plain part (behaviour §4.8): message blocks, then `--` and the footer.

Othello, the Moor of Venice:
> 1
> 2

Iago:
> 4

--
You are receiving this because you have email notifications enabled for #Denmark.

Reply in Zulip Dev:
https://chat.example.com/#narrow/channel/3-Denmark/topic/test/near/1001
Replies to this email are not read.

Manage email preferences:
https://chat.example.com/#settings/notifications
"""

from __future__ import annotations

from missedmail.composing.content import RenderContext, message_text
from missedmail.composing.sections import EmailSections, MessageBlock

QUOTE = "> "
SIGNATURE_SEPARATOR = "--"


def quoted(text: str) -> list[str]:
    """Every line prefixed with `> `, blank ones included, so no line of a message can
    pass for a sender line or for the footer."""
    return [QUOTE + line for line in text.splitlines() or [""]]


def block_text(block: MessageBlock, ctx: RenderContext) -> str:
    lines = [f"{block.sender_name}:"] if block.sender_name is not None else []
    for message in block.messages:
        lines.extend(quoted(message_text(message.content, ctx)))
    return "\n".join(lines)


def text_body(sections: EmailSections) -> str:
    if sections.hidden_notice is not None:
        body = sections.hidden_notice
    else:
        body = "\n\n".join(block_text(block, sections.render) for block in sections.blocks)
    act = [sections.action, sections.link]
    if sections.replies_not_read is not None:
        act.append(sections.replies_not_read)
    paragraphs = [
        *([sections.reason] if sections.reason is not None else []),
        "\n".join(act),
        f"{sections.settings_label}\n{sections.settings_url}",
    ]
    return f"{body}\n\n{SIGNATURE_SEPARATOR}\n" + "\n\n".join(paragraphs) + "\n"
