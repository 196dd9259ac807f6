"""What each email says about its conversation: subjects, names, links, thread roots
(behaviour §4.6, §4.8, §4.9)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from missedmail.core.models import RealmNamePolicy, UserProfile
from tests.db.composing.batches import compose, entry, only_email, text_lines
from tests.factories import Org, direct_message, make_realm, make_user, stream_message

pytestmark = pytest.mark.django_db


def group_dm_email_subject(org: Org, others: list[UserProfile]) -> str:
    message = direct_message(others[0], [org.hamlet, *others[1:]], "hi all")
    return only_email(org.hamlet, entry(message, "direct_message")).subject


def test_a_group_dm_with_two_others_names_both_by_ascending_id(org: Org) -> None:
    # Iago (12) sends; Othello (11) has the lower id and comes first.
    assert group_dm_email_subject(org, [org.iago, org.othello]) == (
        "Group DMs with Othello, the Moor of Venice and Iago"
    )


def test_a_group_dm_with_three_others_names_all_three(org: Org) -> None:
    assert group_dm_email_subject(org, [org.cordelia, org.iago, org.othello]) == (
        "Group DMs with Othello, the Moor of Venice, Iago, and Cordelia, Lear's daughter"
    )


def test_a_group_dm_with_four_others_names_two_and_counts_the_rest(org: Org) -> None:
    others = [org.prospero, org.cordelia, org.iago, org.othello]
    assert group_dm_email_subject(org, others) == (
        "Group DMs with Othello, the Moor of Venice, Iago, and 2 others"
    )


def test_a_group_dm_with_five_others_counts_three_others(org: Org) -> None:
    extra = make_user(org.realm, 15, "Juliet Capulet")
    others = [extra, org.prospero, org.cordelia, org.iago, org.othello]
    assert group_dm_email_subject(org, others) == (
        "Group DMs with Othello, the Moor of Venice, Iago, and 3 others"
    )


def test_a_group_dm_links_to_the_other_participants_and_threads_on_the_conversation(
    org: Org,
) -> None:
    first = direct_message(org.iago, [org.hamlet, org.othello], "one")
    second = direct_message(org.othello, [org.hamlet, org.iago], "two")

    email = only_email(org.hamlet, entry(first, "direct_message"), entry(second, "direct_message"))

    assert "https://chat.example.com/#narrow/dm/11,12-group" in text_lines(email)
    assert first.conversation_id == second.conversation_id
    assert email.thread_root == f"<{first.conversation_id}@chat.example.com>"
    assert text_lines(email)[:4] == ["Iago:", "> one", "", "Othello, the Moor of Venice:"]


def test_a_one_to_one_dm_links_to_the_sender_and_threads_on_conversation_and_sender(
    org: Org,
) -> None:
    message = direct_message(org.othello, [org.hamlet], "hello")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    lines = text_lines(email)
    assert lines[0] == "> hello"  # 1:1 DMs do not name the sender
    assert "https://chat.example.com/#narrow/dm/11-Othello,-the-Moor-of-Venice" in lines
    assert email.thread_root == f"<{message.conversation_id}.11@chat.example.com>"


def test_a_dm_to_oneself_is_titled_with_ones_own_name(org: Org) -> None:
    message = direct_message(org.hamlet, [], "note to self")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    assert email.subject == "DMs with King Hamlet"
    assert email.thread_root == f"<{message.conversation_id}.10@chat.example.com>"


def test_a_stream_email_links_near_its_first_notified_message(org: Org) -> None:
    readers = [org.hamlet, org.othello]
    first = stream_message(org.othello, org.denmark, "release plan", "a", readers)
    second = stream_message(org.othello, org.denmark, "release plan", "b", readers)

    email = only_email(
        org.hamlet, entry(second, "stream_email_notify"), entry(first, "stream_email_notify")
    )

    link = (
        f"https://chat.example.com/#narrow/channel/3-Denmark/topic/release.20plan/near/{first.id}"
    )
    assert link in text_lines(email)
    assert f'href="{link}"' in email.html


def test_stream_topics_group_case_insensitively_and_thread_on_the_lowercased_topic(
    org: Org,
) -> None:
    readers = [org.hamlet, org.othello]
    upper = stream_message(org.othello, org.denmark, "Release Plan", "a", readers)
    lower = stream_message(org.othello, org.denmark, "release plan", "b", readers)

    email = only_email(
        org.hamlet, entry(upper, "stream_email_notify"), entry(lower, "stream_email_notify")
    )

    assert email.message_ids == (upper.id, lower.id)
    assert email.subject == "#Denmark > Release Plan"
    assert email.thread_root == (
        f"<3.{base64.b64encode(b'release plan').decode()}@chat.example.com>"
    )


def test_a_resolved_topic_is_shown_without_its_mark_and_flagged_in_the_subject(
    org: Org,
) -> None:
    message = stream_message(org.othello, org.denmark, "✔ release plan", "done", [org.hamlet])

    email = only_email(org.hamlet, entry(message, "stream_email_notify"))

    assert email.subject == "[resolved] #Denmark > release plan"
    # The link and the thread root use the real topic name, mark included.
    assert any("/topic/.E2.9C.94.20release.20plan/" in line for line in text_lines(email))
    root = base64.b64encode("✔ release plan".encode()).decode()
    assert email.thread_root == f"<3.{root}@chat.example.com>"


def test_the_empty_topic_is_shown_as_general_chat_and_threads_on_the_empty_string(
    org: Org,
) -> None:
    message = stream_message(org.othello, org.denmark, "", "hi", [org.hamlet])

    email = only_email(org.hamlet, entry(message, "stream_email_notify"))

    assert email.subject == "#Denmark > general chat"
    assert email.thread_root == "<3.@chat.example.com>"


def test_a_non_ascii_realm_host_is_idna_encoded_in_thread_roots(org: Org) -> None:
    org.realm.url = "https://bücher.example/"
    org.realm.save()
    message = direct_message(org.othello, [org.hamlet], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    assert email.thread_root == f"<{message.conversation_id}.11@xn--bcher-kva.example>"
    assert email.realm_host == "xn--bcher-kva.example"
    assert "https://bücher.example/#settings/notifications" in text_lines(email)


@pytest.mark.parametrize(
    ("topic", "subject"),
    [
        ("line\r\nbreak", "#Denmark > line  break"),
        ("tab\there", "#Denmark > tab here"),
        ("sep\u2028arator", "#Denmark > sep arator"),
    ],
)
def test_subjects_never_contain_line_breaks_or_control_characters(
    org: Org, topic: str, subject: str
) -> None:
    message = stream_message(org.othello, org.denmark, topic, "hi", [org.hamlet])

    email = only_email(org.hamlet, entry(message, "stream_email_notify"))

    assert email.subject == subject


class TestRealmNameInSubject:
    def dm_subject(self, org: Org) -> str:
        message = direct_message(org.othello, [org.hamlet], "hi")
        return only_email(org.hamlet, entry(message, "direct_message")).subject

    def set_policy(self, org: Org, policy: RealmNamePolicy) -> None:
        org.hamlet.realm_name_in_email_notifications_policy = policy
        org.hamlet.save()

    def test_policy_always_adds_the_realm_name(self, org: Org) -> None:
        self.set_policy(org, RealmNamePolicy.ALWAYS)
        assert self.dm_subject(org) == "DMs with Othello, the Moor of Venice [Zulip Dev]"

    def test_policy_never_leaves_it_out_even_for_a_shared_address(self, org: Org) -> None:
        self.set_policy(org, RealmNamePolicy.NEVER)
        make_user(
            make_realm(2, "Other", "https://other.example.com"), 50, "H", "hamlet@example.com"
        )
        assert self.dm_subject(org) == "DMs with Othello, the Moor of Venice"

    def test_automatic_leaves_it_out_for_a_single_account(self, org: Org) -> None:
        assert self.dm_subject(org) == "DMs with Othello, the Moor of Venice"

    def test_automatic_adds_it_when_the_address_has_another_account(self, org: Org) -> None:
        other = make_realm(2, "Other", "https://other.example.com")
        make_user(other, 50, "Hamlet elsewhere", "Hamlet@Example.com")
        assert self.dm_subject(org) == "DMs with Othello, the Moor of Venice [Zulip Dev]"

    @pytest.mark.parametrize(
        "other_account",
        [{"is_active": False}, {"is_bot": True}, {"realm_deactivated": True}],
    )
    def test_automatic_ignores_inactive_bot_and_deactivated_realm_accounts(
        self, org: Org, other_account: dict[str, bool]
    ) -> None:
        other = make_realm(
            2,
            "Other",
            "https://other.example.com",
            deactivated=other_account.pop("realm_deactivated", False),
        )
        make_user(other, 50, "Hamlet elsewhere", "hamlet@example.com", **other_account)
        assert self.dm_subject(org) == "DMs with Othello, the Moor of Venice"

    def test_the_hidden_content_subject_carries_the_suffix_too(self, org: Org) -> None:
        self.set_policy(org, RealmNamePolicy.ALWAYS)
        org.realm.message_content_allowed_in_email_notifications = False
        org.realm.save()
        assert self.dm_subject(org) == "New messages [Zulip Dev]"


def test_emails_are_addressed_to_the_user_in_their_language_and_timezone(org: Org) -> None:
    org.hamlet.timezone = "Europe/Copenhagen"
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    assert (email.user_id, email.realm_id) == (10, 1)
    assert (email.to_name, email.to_email) == ("King Hamlet", "hamlet@example.com")
    assert (email.timezone, email.language) == ("Europe/Copenhagen", "en")
    assert (email.realm_name, email.realm_host) == ("Zulip Dev", "chat.example.com")
    assert '<html lang="en" dir="ltr">' in email.html


def test_messages_inside_an_email_are_ordered_by_the_time_they_were_sent(org: Org) -> None:
    later = stream_message(
        org.othello,
        org.denmark,
        "t",
        "later",
        [org.hamlet],
        message_id=5001,
        date_sent=datetime(2026, 11, 28, 9, 5, tzinfo=UTC),
    )
    earlier = stream_message(
        org.iago,
        org.denmark,
        "t",
        "earlier",
        [org.hamlet],
        message_id=5002,
        date_sent=datetime(2026, 11, 28, 9, 1, tzinfo=UTC),
    )

    email = only_email(
        org.hamlet, entry(later, "stream_email_notify"), entry(earlier, "stream_email_notify")
    )

    assert text_lines(email)[:5] == [
        "Iago:",
        "> earlier",
        "",
        "Othello, the Moor of Venice:",
        "> later",
    ]
    assert email.message_ids == (5001, 5002)


def test_compose_returns_one_email_per_conversation_in_a_mixed_batch(org: Org) -> None:
    dm = direct_message(org.othello, [org.hamlet], "dm")
    group = direct_message(org.othello, [org.hamlet, org.iago], "group")
    denmark = stream_message(org.othello, org.denmark, "t", "s1", [org.hamlet])
    verona = stream_message(org.othello, org.verona, "t", "s2", [org.hamlet])

    batch = compose(
        org.hamlet,
        entry(verona, "stream_email_notify"),
        entry(group, "direct_message"),
        entry(denmark, "stream_email_notify"),
        entry(dm, "direct_message"),
    )

    assert [email.subject for email in batch.emails] == [
        "DMs with Othello, the Moor of Venice",
        "Group DMs with Othello, the Moor of Venice and Iago",
        "#Denmark > t",
        "#Verona > t",
    ]
