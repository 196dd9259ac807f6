"""One conversation's bucket → one email draft (behaviour §4.6 to §4.9)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext, ngettext

from missedmail.composing import narrow
from missedmail.composing.buckets import Bucket, ConversationKind
from missedmail.composing.conversation import (
    ConversationView,
    describe_conversation,
    listed_sender_ids,
)
from missedmail.composing.htmlbody import html_body
from missedmail.composing.mentions import GroupInfo, MentionSummary, summarise_mentions
from missedmail.composing.names import join_names
from missedmail.composing.reader import Reader
from missedmail.composing.reasons import reason_line
from missedmail.composing.sections import EmailSections, sender_blocks
from missedmail.composing.subject import email_subject, hidden_content_title, single_line
from missedmail.composing.textbody import text_body
from missedmail.core.models import UserProfile
from missedmail.outbox.drafts import EmailDraft


@dataclass(frozen=True)
class Lookups:
    """What the batch loaded in bulk for all its emails."""

    people: Mapping[int, UserProfile]  # senders and DM participants
    groups: Mapping[int, GroupInfo]  # mentioned groups
    stream_ids: Mapping[str, int]  # streams the messages link to, by lower-cased name


def compose_email(bucket: Bucket, reader: Reader, lookups: Lookups) -> EmailDraft:
    """Call under `translation.override(reader.language)`."""
    view = describe_conversation(bucket, reader, lookups.people)
    mentions = summarise_mentions(bucket.notified, lookups.groups)
    sections = email_sections(bucket, view, mentions, reader, lookups)
    message_ids = bucket.notified_ids
    user = reader.user
    # The HTML part first: rendering a message's Markdown keeps its parse, which the
    # plain-text part then reads instead of parsing the message again.
    html = html_body(sections)
    return EmailDraft(
        user_id=user.id,
        realm_id=user.realm_id,
        to_name=single_line(user.full_name),
        to_email=user.email,
        subject=sections.subject,
        text=text_body(sections),
        html=html,
        message_ids=message_ids,
        thread_root=view.thread_root,
        realm_name=reader.realm_name,
        realm_host=reader.realm_host,
        reply_to_message_id=message_ids[0] if reader.reply_by_email else None,
        timezone=user.timezone,
        language=reader.language,
    )


def email_sections(
    bucket: Bucket,
    view: ConversationView,
    mentions: MentionSummary,
    reader: Reader,
    lookups: Lookups,
) -> EmailSections:
    show = reader.show_content
    title = view.title if show else hidden_content_title()
    realm_name = single_line(reader.realm_name)
    return EmailSections(
        language=reader.language,
        subject=email_subject(title, reader.realm_name if reader.realm_name_in_subject else None),
        heading=single_line(title),
        summary=_summary(bucket, mentions, lookups, show=show),
        blocks=(
            sender_blocks(bucket.messages(), lookups.people, show_senders=view.show_sender_names)
            if show
            else ()
        ),
        hidden_notice=None if show else _hidden_notice(reader),
        reason=_reason(view, mentions, show=show),
        action=_action(reader, realm_name),
        link=view.link,
        link_label=gettext("Open in %(realm)s") % {"realm": realm_name},
        replies_not_read=(
            gettext("Replies to this email are not read.")
            if show and not reader.reply_by_email
            else None
        ),
        settings_label=gettext("Manage email preferences:"),
        settings_link_label=gettext("Manage email preferences"),
        settings_url=narrow.settings_url(reader.realm_url),
        render=reader.render_context(lookups.stream_ids),
    )


def _reason(view: ConversationView, mentions: MentionSummary, *, show: bool) -> str | None:
    if view.kind != ConversationKind.STREAM or view.stream_name is None or view.topic is None:
        return None
    topic = single_line(view.topic.name) if show else None
    return reason_line(mentions, single_line(view.stream_name), topic)


def _action(reader: Reader, realm_name: str) -> str:
    values = {"realm": realm_name}
    if reader.reply_by_email:
        return gettext("Reply to this email directly, or view it in %(realm)s:") % values
    if not reader.show_content:
        return gettext("View or reply in %(realm)s:") % values
    return gettext("Reply in %(realm)s:") % values


def _hidden_notice(reader: Reader) -> str:
    # The organisation's setting takes precedence: changing one's own would not help.
    if reader.content_hidden_by_realm:
        return gettext(
            "This email does not include message content because your organization has "
            "disabled message content in email notifications."
        )
    return gettext(
        "This email does not include message content because you have disabled message "
        "content in email notifications."
    )


def _summary(bucket: Bucket, mentions: MentionSummary, lookups: Lookups, *, show: bool) -> str:
    count = bucket.message_count
    if not show:
        return ngettext("%(count)d new message", "%(count)d new messages", count) % {"count": count}
    names = [
        single_line(lookups.people[sender_id].full_name)
        for sender_id in listed_sender_ids(bucket, mention=mentions.mention)
        if sender_id in lookups.people
    ]
    values = {"count": count, "senders": join_names(names)}
    if mentions.mention:
        return (
            ngettext(
                "%(count)d new message, with mentions by %(senders)s",
                "%(count)d new messages, with mentions by %(senders)s",
                count,
            )
            % values
        )
    return (
        ngettext(
            "%(count)d new message from %(senders)s",
            "%(count)d new messages from %(senders)s",
            count,
        )
        % values
    )
