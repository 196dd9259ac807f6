"""PUT realms, users, streams and user groups: validation, idempotent upserts, and a user's
batching-period change moving their pending notifications."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.core.models import Realm, Stream, UserGroup, UserProfile
from missedmail.scheduling import wakeups
from missedmail.scheduling.ingest import raw_events_from_objects, schedule_events
from missedmail.scheduling.models import EventSource, ScheduledNotification
from tests.db.api.conftest import ApiClient, error_of, ok
from tests.factories import Org, direct_message, make_group

pytestmark = pytest.mark.django_db

USER = {"realm_id": 1, "email": "desdemona@example.com", "full_name": "Desdemona"}


def test_putting_a_new_realm_creates_it_with_defaults(api: ApiClient) -> None:
    body = ok(api.put("realms/7", {"name": "Globe", "url": "https://globe.example.com/"}))
    assert body["created"] is True
    realm = Realm.objects.get(id=7)
    assert (realm.name, realm.url) == ("Globe", "https://globe.example.com")
    assert realm.message_content_allowed_in_email_notifications is True
    assert realm.deactivated is False


def test_putting_the_same_realm_twice_is_idempotent(api: ApiClient) -> None:
    body = {"name": "Globe", "url": "https://globe.example.com", "deactivated": True}
    ok(api.put("realms/7", body))
    assert ok(api.put("realms/7", body))["created"] is False
    assert Realm.objects.count() == 1
    assert Realm.objects.get(id=7).deactivated is True


def test_fields_left_out_of_an_update_keep_their_values(api: ApiClient) -> None:
    ok(
        api.put(
            "realms/7",
            {
                "name": "Globe",
                "url": "https://globe.example.com",
                "message_content_allowed_in_email_notifications": False,
            },
        )
    )
    ok(api.put("realms/7", {"name": "The Globe"}))
    realm = Realm.objects.get(id=7)
    assert realm.name == "The Globe"
    assert realm.url == "https://globe.example.com"
    assert realm.message_content_allowed_in_email_notifications is False


def test_creating_a_realm_without_a_required_field_names_it(api: ApiClient) -> None:
    code, msg = error_of(api.put("realms/7", {"name": "Globe"}), 400)
    assert (code, msg) == ("MISSING_FIELD", "url: required to create a realm")
    assert not Realm.objects.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "G", "url": "ftp://x.example"}, "url: expected an http(s) URL"),
        ({"name": "G", "url": "https://"}, "url: expected an http(s) URL"),
        ({"name": "", "url": "https://x.example"}, "name: at least 1 characters, got 0"),
        (
            {"name": "G", "url": "https://x.example", "deactivated": 1},
            "deactivated: expected true or false, got number",
        ),
        (
            {"name": "G", "url": "https://x.example", "deactivated": None},
            "deactivated: must not be null",
        ),
        ({"name": "G", "url": "https://x.example", "colour": "red"}, "colour: unknown field"),
        ({"name": "x" * 201, "url": "https://x.example"}, "name: at most 200 characters, got 201"),
    ],
)
def test_an_invalid_realm_field_is_a_400_naming_it(
    api: ApiClient, body: dict[str, object], expected: str
) -> None:
    code, msg = error_of(api.put("realms/7", body), 400)
    assert code == "INVALID_INPUT"
    assert msg.startswith(expected)
    assert not Realm.objects.exists()


def test_putting_a_user_creates_them_with_the_notification_defaults(
    api: ApiClient, org: Org
) -> None:
    assert ok(api.put("users/20", USER))["created"] is True
    user = UserProfile.objects.get(id=20)
    assert (user.realm_id, user.email, user.full_name) == (1, "desdemona@example.com", "Desdemona")
    assert user.email_notifications_batching_period_seconds == 120
    assert user.enable_offline_email_notifications is True
    assert user.enable_stream_email_notifications is False
    assert user.enable_followed_topic_email_notifications is True
    assert user.realm_name_in_email_notifications_policy == 1
    assert (user.timezone, user.default_language) == ("", "en")


def test_every_user_setting_can_be_set(api: ApiClient, org: Org) -> None:
    settings = {
        "is_active": False,
        "is_bot": True,
        "timezone": "Europe/Paris",
        "default_language": "pt-BR",
        "twenty_four_hour_time": True,
        "email_notifications_batching_period_seconds": 604800,
        "enable_offline_email_notifications": False,
        "message_content_in_email_notifications": False,
        "realm_name_in_email_notifications_policy": 3,
        "enable_stream_email_notifications": True,
        "enable_followed_topic_email_notifications": False,
    }
    ok(api.put("users/20", {**USER, **settings}))
    user = UserProfile.objects.get(id=20)
    assert {name: getattr(user, name) for name in settings} == settings


def test_names_and_emails_may_be_any_unicode(api: ApiClient, org: Org) -> None:
    ok(api.put("users/20", {**USER, "email": "ñandú@exämple.com", "full_name": "Désdémona 🌹 王"}))
    user = UserProfile.objects.get(id=20)
    assert (user.email, user.full_name) == ("ñandú@exämple.com", "Désdémona 🌹 王")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"email_notifications_batching_period_seconds": 0},
            "email_notifications_batching_period_seconds: must be between 1 and 604800, got 0",
        ),
        (
            {"email_notifications_batching_period_seconds": 604801},
            "email_notifications_batching_period_seconds: must be between 1 and 604800, got 604801",
        ),
        (
            {"email_notifications_batching_period_seconds": "5"},
            "email_notifications_batching_period_seconds: expected an integer, got string",
        ),
        (
            {"email_notifications_batching_period_seconds": True},
            "email_notifications_batching_period_seconds: expected an integer, got boolean",
        ),
        (
            {"email_notifications_batching_period_seconds": 5.0},
            "email_notifications_batching_period_seconds: expected an integer, got number",
        ),
        ({"realm_id": "1"}, "realm_id: expected an integer, got string"),
        ({"realm_id": 0}, "realm_id: must be between 1 and 2^63-1, got 0"),
        ({"realm_id": 2**63}, "realm_id: must be between 1 and 2^63-1"),
        ({"email": "desdemona@example.com\r\nBcc: x@y"}, "email: must not contain line breaks"),
        ({"email": "desdemona"}, "email: expected an email address"),
        ({"full_name": "Des\x00demona"}, "full_name: must not contain NUL characters"),
        ({"full_name": "\ud800"}, "full_name: must be valid Unicode"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone: unknown IANA time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "../../etc/passwd"}, "timezone: unknown IANA time zone"),
        ({"default_language": "english please"}, "default_language: expected a language code"),
        (
            {"realm_name_in_email_notifications_policy": 4},
            "realm_name_in_email_notifications_policy: "
            "must be 1 (automatic), 2 (always) or 3 (never), got 4",
        ),
        ({"is_bot": "false"}, "is_bot: expected true or false, got string"),
        ({"is_admin": True}, "is_admin: unknown field"),
    ],
)
def test_an_invalid_user_field_is_a_400_naming_it_and_changes_nothing(
    api: ApiClient, org: Org, fields: dict[str, object], expected: str
) -> None:
    before = UserProfile.objects.get(id=10)
    # Several valid changes beside the bad one: none of them may be applied.
    body = {"full_name": "Prince Hamlet", "is_bot": True, "timezone": "Asia/Tokyo", **fields}
    code, msg = error_of(api.put("users/10", body), 400)
    assert code == "INVALID_INPUT"
    assert msg.startswith(expected)
    after = UserProfile.objects.get(id=10)
    assert (after.full_name, after.is_bot, after.timezone) == (
        before.full_name,
        before.is_bot,
        before.timezone,
    )


def test_the_empty_timezone_means_the_server_default(api: ApiClient, org: Org) -> None:
    ok(api.put("users/10", {"timezone": "Europe/Paris"}))
    ok(api.put("users/10", {"timezone": ""}))
    assert UserProfile.objects.get(id=10).timezone == ""


def test_a_user_may_have_no_email_address(api: ApiClient, org: Org) -> None:
    ok(api.put("users/10", {"email": ""}))
    assert UserProfile.objects.get(id=10).email == ""


def test_a_user_in_an_unknown_realm_is_refused(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.put("users/20", {**USER, "realm_id": 99}), 400)
    assert (code, msg) == ("UNKNOWN_REFERENCE", "realm_id: unknown realm 99")
    assert not UserProfile.objects.filter(id=20).exists()


def test_creating_a_user_without_a_name_names_the_missing_field(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.put("users/20", {"realm_id": 1, "email": "d@example.com"}), 400)
    assert (code, msg) == ("MISSING_FIELD", "full_name: required to create a user")


def test_a_user_cannot_move_to_another_realm(api: ApiClient, org: Org) -> None:
    ok(api.put("realms/2", {"name": "Other", "url": "https://other.example.com"}))
    code, msg = error_of(api.put("users/10", {"realm_id": 2, "full_name": "Moved"}), 400)
    assert code == "IMMUTABLE_FIELD"
    assert msg.startswith("realm_id: this user belongs to realm 1")
    assert UserProfile.objects.get(id=10).full_name == "King Hamlet"


def test_putting_the_same_user_twice_is_idempotent(api: ApiClient, org: Org) -> None:
    ok(api.put("users/20", USER))
    assert ok(api.put("users/20", USER))["created"] is False
    assert UserProfile.objects.filter(id=20).count() == 1


def _pending_for(org: Org, clock: ManualClock) -> None:
    m1 = direct_message(org.othello, [org.hamlet], "one")
    m2 = direct_message(org.iago, [org.hamlet, org.othello], "two")
    events = [
        {"user_profile_id": 10, "message_id": m1.id, "trigger": "direct_message"},
        {"user_profile_id": 10, "message_id": m2.id, "trigger": "direct_message"},
        {"user_profile_id": 11, "message_id": m2.id, "trigger": "direct_message"},
    ]
    schedule_events(raw_events_from_objects(events), source=EventSource.API, now=clock.now())


def test_changing_the_batching_period_moves_that_users_pending_notifications(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    _pending_for(org, api_clock)
    t0 = api_clock.now()
    ok(api.put("users/10", {"email_notifications_batching_period_seconds": 600}))
    due = {
        (r.user_id, r.message_id): r.scheduled_timestamp
        for r in ScheduledNotification.objects.all()
    }
    assert sorted(due.items()) == sorted(
        {
            **{key: t0 + timedelta(seconds=600) for key in due if key[0] == 10},
            **{key: t0 + timedelta(seconds=120) for key in due if key[0] == 11},
        }.items()
    )
    assert UserProfile.objects.get(id=10).email_notifications_batching_period_seconds == 600


def test_a_shorter_batching_period_moves_pending_notifications_earlier(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    _pending_for(org, api_clock)
    t0 = api_clock.now()
    ok(api.put("users/10", {"email_notifications_batching_period_seconds": 30}))
    assert set(
        ScheduledNotification.objects.filter(user_id=10).values_list(
            "scheduled_timestamp", flat=True
        )
    ) == {t0 + timedelta(seconds=30)}


def test_putting_the_same_batching_period_again_moves_nothing(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    _pending_for(org, api_clock)
    t0 = api_clock.now()
    ok(api.put("users/10", {"email_notifications_batching_period_seconds": 120}))
    assert set(ScheduledNotification.objects.values_list("scheduled_timestamp", flat=True)) == {
        t0 + timedelta(seconds=120)
    }


def test_a_refused_user_update_moves_no_pending_notification(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    _pending_for(org, api_clock)
    t0 = api_clock.now()
    body = {"email_notifications_batching_period_seconds": 600, "realm_id": 99}
    assert error_of(api.put("users/10", body), 400)[0] == "IMMUTABLE_FIELD"
    assert set(ScheduledNotification.objects.values_list("scheduled_timestamp", flat=True)) == {
        t0 + timedelta(seconds=120)
    }
    assert UserProfile.objects.get(id=10).email_notifications_batching_period_seconds == 120


def test_putting_a_stream_creates_and_renames_it(api: ApiClient, org: Org) -> None:
    assert ok(api.put("streams/30", {"realm_id": 1, "name": "Elsinore"}))["created"] is True
    assert ok(api.put("streams/30", {"name": "Elsinore castle"}))["created"] is False
    stream = Stream.objects.get(id=30)
    assert (stream.realm_id, stream.name) == (1, "Elsinore castle")


def test_a_stream_needs_a_known_realm(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.put("streams/30", {"realm_id": 5, "name": "Elsinore"}), 400)
    assert (code, msg) == ("UNKNOWN_REFERENCE", "realm_id: unknown realm 5")
    code, msg = error_of(api.put("streams/30", {"realm_id": 1}), 400)
    assert (code, msg) == ("MISSING_FIELD", "name: required to create a stream")


def test_putting_a_user_group_sets_its_members_and_subgroups(api: ApiClient, org: Org) -> None:
    ok(api.put("user_groups/40", {"realm_id": 1, "name": "actors", "members": [10, 11]}))
    body = {"realm_id": 1, "name": "company", "members": [12], "subgroups": [40]}
    ok(api.put("user_groups/41", body))
    company = UserGroup.objects.get(id=41)
    assert list(company.members.values_list("id", flat=True)) == [12]
    assert list(company.subgroups.values_list("id", flat=True)) == [40]

    ok(api.put("user_groups/40", {"members": [13]}))
    actors = UserGroup.objects.get(id=40)
    assert list(actors.members.values_list("id", flat=True)) == [13]
    assert actors.name == "actors"


def test_a_user_group_member_must_be_a_user_of_its_realm(api: ApiClient, org: Org) -> None:
    code, msg = error_of(
        api.put("user_groups/40", {"realm_id": 1, "name": "actors", "members": [10, 99]}), 400
    )
    assert (code, msg) == ("UNKNOWN_REFERENCE", "members[1]: unknown user 99")
    assert not UserGroup.objects.exists()


def test_a_user_group_cannot_contain_itself_even_indirectly(api: ApiClient, org: Org) -> None:
    a = make_group(org.realm, 40, "a", [org.hamlet])
    make_group(org.realm, 41, "b", [org.othello], [a])
    code, msg = error_of(api.put("user_groups/40", {"subgroups": [41]}), 400)
    assert code == "INVALID_INPUT"
    assert msg == "subgroups: user group 40 would become a subgroup of itself"
    code, msg = error_of(api.put("user_groups/40", {"subgroups": [40]}), 400)
    assert msg == "subgroups: user group 40 would become a subgroup of itself"
    assert not UserGroup.objects.get(id=40).subgroups.exists()


def test_a_user_group_needs_its_members_to_be_created(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.put("user_groups/40", {"realm_id": 1, "name": "actors"}), 400)
    assert (code, msg) == ("MISSING_FIELD", "members: required to create a user group")


def test_a_batching_period_change_wakes_the_batchers_for_the_new_due_time(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    _pending_for(org, api_clock)
    announced: list[datetime] = []
    wakeups.subscribe(announced.append)
    try:
        ok(api.put("users/10", {"email_notifications_batching_period_seconds": 30}))
        ok(api.put("users/10", {"full_name": "Prince Hamlet"}))
    finally:
        wakeups.unsubscribe(announced.append)
    assert announced == [api_clock.now() + timedelta(seconds=30)]
