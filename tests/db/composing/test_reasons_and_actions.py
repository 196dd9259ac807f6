"""The footer: why the reader gets the email and where to act (behaviour §4.6, §4.8)."""

from __future__ import annotations

import pytest

from missedmail.events import Trigger
from tests.db.composing.batches import entry, only_email, text_lines
from tests.factories import Org, direct_message, make_group, make_user, stream_message

pytestmark = pytest.mark.django_db

PERSONAL = "You are receiving this because you were personally mentioned."
TOPIC_WILDCARD = (
    "You are receiving this because all topic participants were mentioned in #Denmark > test."
)
STREAM_WILDCARD_FOLLOWED = (
    "You are receiving this because you have wildcard mention notifications enabled for "
    "topics you follow."
)
STREAM_WILDCARD = "You are receiving this because everyone was mentioned in #Denmark."
FOLLOWED = (
    "You are receiving this because you have email notifications enabled for topics you follow."
)
STREAM_EMAIL = "You are receiving this because you have email notifications enabled for #Denmark."


def reason_of(org: Org, *triggers: Trigger | str) -> str | None:
    """The line after `--` of an email about one message per trigger in Denmark/test."""
    entries = []
    for trigger in triggers:
        message = stream_message(
            org.othello, org.denmark, "test", "hi", [org.hamlet], flags={10: ["mentioned"]}
        )
        entries.append(entry(message, trigger))
    lines = text_lines(only_email(org.hamlet, *entries))
    line = lines[lines.index("--") + 1]
    return line if line.startswith("You are receiving this") else None


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        (Trigger.MENTIONED, PERSONAL),
        (Trigger.TOPIC_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC, TOPIC_WILDCARD),
        (Trigger.TOPIC_WILDCARD_MENTIONED, TOPIC_WILDCARD),
        (Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC, STREAM_WILDCARD_FOLLOWED),
        (Trigger.STREAM_WILDCARD_MENTIONED, STREAM_WILDCARD),
        (Trigger.FOLLOWED_TOPIC_EMAIL_NOTIFY, FOLLOWED),
        (Trigger.STREAM_EMAIL_NOTIFY, STREAM_EMAIL),
    ],
)
def test_each_trigger_has_its_reason_line(org: Org, trigger: Trigger, reason: str) -> None:
    assert reason_of(org, trigger) == reason


@pytest.mark.parametrize(
    ("triggers", "reason"),
    [
        ((Trigger.STREAM_EMAIL_NOTIFY, Trigger.MENTIONED), PERSONAL),
        ((Trigger.STREAM_WILDCARD_MENTIONED, Trigger.TOPIC_WILDCARD_MENTIONED), TOPIC_WILDCARD),
        (
            (Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC, Trigger.TOPIC_WILDCARD_MENTIONED),
            TOPIC_WILDCARD,
        ),
        (
            (
                Trigger.STREAM_WILDCARD_MENTIONED,
                Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC,
            ),
            STREAM_WILDCARD_FOLLOWED,
        ),
        ((Trigger.STREAM_EMAIL_NOTIFY, Trigger.STREAM_WILDCARD_MENTIONED), STREAM_WILDCARD),
        ((Trigger.STREAM_EMAIL_NOTIFY, Trigger.FOLLOWED_TOPIC_EMAIL_NOTIFY), FOLLOWED),
    ],
)
def test_the_first_matching_reason_wins(
    org: Org, triggers: tuple[Trigger, ...], reason: str
) -> None:
    assert reason_of(org, *triggers) == reason


def test_a_group_mention_names_the_smallest_mentioned_group(org: Org) -> None:
    extra = make_user(org.realm, 15, "Juliet Capulet")
    # "leads" has two direct members and a subgroup of two more: four in all, so the
    # three-member "council" is smaller even though it has more direct members.
    pair = make_group(org.realm, 1, "pair", [org.prospero, extra])
    leads = make_group(org.realm, 2, "leads", [org.hamlet, org.othello], subgroups=[pair])
    council = make_group(org.realm, 3, "council", [org.hamlet, org.iago, org.cordelia])
    readers = [org.hamlet]
    by_leads = stream_message(org.othello, org.denmark, "test", "a", readers)
    by_council = stream_message(org.iago, org.denmark, "test", "b", readers)

    email = only_email(
        org.hamlet,
        entry(by_leads, "mentioned", leads.id),
        entry(by_council, "mentioned", council.id),
    )

    assert "You are receiving this because @council was mentioned." in text_lines(email)


def test_groups_of_equal_size_resolve_to_the_one_of_the_earliest_message(org: Org) -> None:
    first = make_group(org.realm, 1, "first", [org.hamlet, org.iago])
    second = make_group(org.realm, 2, "second", [org.hamlet, org.othello])
    a = stream_message(org.othello, org.denmark, "test", "a", [org.hamlet])
    b = stream_message(org.othello, org.denmark, "test", "b", [org.hamlet])

    email = only_email(
        org.hamlet, entry(b, "mentioned", second.id), entry(a, "mentioned", first.id)
    )

    assert "You are receiving this because @first was mentioned." in text_lines(email)


def test_subgroup_cycles_and_shared_members_count_each_user_once(org: Org) -> None:
    loop_a = make_group(org.realm, 1, "loop-a", [org.hamlet, org.othello])
    loop_b = make_group(org.realm, 2, "loop-b", [org.othello], subgroups=[loop_a])
    loop_a.subgroups.set([loop_b])  # a cycle: two distinct members in all
    trio = make_group(org.realm, 3, "trio", [org.hamlet, org.iago, org.cordelia])
    a = stream_message(org.othello, org.denmark, "test", "a", [org.hamlet])
    b = stream_message(org.othello, org.denmark, "test", "b", [org.hamlet])

    email = only_email(org.hamlet, entry(a, "mentioned", trio.id), entry(b, "mentioned", loop_b.id))

    assert "You are receiving this because @loop-b was mentioned." in text_lines(email)


def test_a_personal_mention_takes_precedence_over_a_group_mention(org: Org) -> None:
    group = make_group(org.realm, 1, "everyone", [org.hamlet])
    a = stream_message(org.othello, org.denmark, "test", "a", [org.hamlet])
    b = stream_message(org.othello, org.denmark, "test", "b", [org.hamlet])

    email = only_email(org.hamlet, entry(a, "mentioned", group.id), entry(b, "mentioned"))

    assert PERSONAL in text_lines(email)


def test_dm_emails_carry_no_reason_line(org: Org) -> None:
    message = direct_message(org.othello, [org.hamlet], "hi")

    lines = text_lines(only_email(org.hamlet, entry(message, "direct_message")))

    assert lines[lines.index("--") + 1] == "Reply in Zulip Dev:"
    assert not any(line.startswith("You are receiving this") for line in lines)


def test_without_the_gateway_the_email_says_replies_are_not_read(org: Org) -> None:
    message = direct_message(org.othello, [org.hamlet], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    footer = text_lines(email)[text_lines(email).index("--") + 1 :]
    assert footer == [
        "Reply in Zulip Dev:",
        "https://chat.example.com/#narrow/dm/11-Othello,-the-Moor-of-Venice",
        "Replies to this email are not read.",
        "",
        "Manage email preferences:",
        "https://chat.example.com/#settings/notifications",
    ]
    assert email.reply_to_message_id is None


def test_with_the_gateway_the_email_invites_replies_to_its_first_message(org: Org) -> None:
    first = direct_message(org.othello, [org.hamlet], "one")
    second = direct_message(org.othello, [org.hamlet], "two")

    email = only_email(
        org.hamlet,
        entry(second, "direct_message"),
        entry(first, "direct_message"),
        reply_by_email=True,
    )

    lines = text_lines(email)
    assert "Reply to this email directly, or view it in Zulip Dev:" in lines
    assert "Replies to this email are not read." not in lines
    assert email.reply_to_message_id == first.id


@pytest.mark.parametrize("reply_by_email", [True, False])
def test_hidden_content_says_view_or_reply_and_offers_no_reply_address(
    org: Org, reply_by_email: bool
) -> None:
    org.hamlet.message_content_in_email_notifications = False
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"), reply_by_email=reply_by_email)

    lines = text_lines(email)
    assert lines[lines.index("--") + 1 :] == [
        "View or reply in Zulip Dev:",
        "https://chat.example.com/#narrow/dm/11",
        "",
        "Manage email preferences:",
        "https://chat.example.com/#settings/notifications",
    ]
    assert email.reply_to_message_id is None


def test_hidden_content_by_the_organisation_takes_precedence_over_the_user_setting(
    org: Org,
) -> None:
    org.realm.message_content_allowed_in_email_notifications = False
    org.realm.save()
    org.hamlet.message_content_in_email_notifications = False
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    assert text_lines(email)[0] == (
        "This email does not include message content because your organization has "
        "disabled message content in email notifications."
    )
    assert "your organization has disabled" in email.html


def test_hidden_content_by_the_user_says_they_chose_it(org: Org) -> None:
    org.hamlet.message_content_in_email_notifications = False
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    assert text_lines(email)[:2] == [
        "This email does not include message content because you have disabled message "
        "content in email notifications.",
        "",
    ]


def test_a_hidden_topic_wildcard_reason_names_the_stream_but_not_the_topic(org: Org) -> None:
    org.hamlet.message_content_in_email_notifications = False
    org.hamlet.save()
    message = stream_message(org.othello, org.denmark, "secret", "hi", [org.hamlet])

    email = only_email(org.hamlet, entry(message, "topic_wildcard_mentioned"))

    lines = text_lines(email)
    assert (
        "You are receiving this because all topic participants were mentioned in #Denmark." in lines
    )
    assert f"https://chat.example.com/#narrow/channel/3-Denmark/near/{message.id}" in lines
    assert "secret" not in email.text
    assert "secret" not in email.html
