"""The host application's data, keyed by the host's own ids.

Ids are chosen by the caller (contract §4), so primary keys are plain positive BIGINTs, not
sequences. Invariants live in the database as constraints, not only in Python.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

MAX_BATCHING_PERIOD_SECONDS = 7 * 24 * 3600
DEFAULT_BATCHING_PERIOD_SECONDS = 120


def positive_id(table: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(id__gt=0), name=f"{table}_id_positive")


class Realm(models.Model):
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    url = models.CharField(max_length=500, help_text="e.g. https://chat.example.com")
    deactivated = models.BooleanField(default=False)
    message_content_allowed_in_email_notifications = models.BooleanField(default=True)

    class Meta:
        constraints = [positive_id("realm")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class RealmNamePolicy(models.IntegerChoices):
    AUTOMATIC = 1, "automatic"
    ALWAYS = 2, "always"
    NEVER = 3, "never"


class UserProfile(models.Model):
    id = models.BigIntegerField(primary_key=True)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="users")
    # Blank is allowed: a user without an address gets no email (behaviour §4.1).
    email = models.CharField(max_length=254, blank=True)
    full_name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    is_bot = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, blank=True, default="")
    default_language = models.CharField(max_length=35, default="en")
    twenty_four_hour_time = models.BooleanField(default=False)

    email_notifications_batching_period_seconds = models.IntegerField(
        default=DEFAULT_BATCHING_PERIOD_SECONDS
    )
    enable_offline_email_notifications = models.BooleanField(default=True)
    message_content_in_email_notifications = models.BooleanField(default=True)
    realm_name_in_email_notifications_policy = models.SmallIntegerField(
        choices=RealmNamePolicy.choices, default=RealmNamePolicy.AUTOMATIC
    )
    enable_stream_email_notifications = models.BooleanField(default=False)
    enable_followed_topic_email_notifications = models.BooleanField(default=True)

    class Meta:
        constraints = [
            positive_id("user"),
            models.CheckConstraint(
                condition=Q(email_notifications_batching_period_seconds__gte=1)
                & Q(email_notifications_batching_period_seconds__lte=MAX_BATCHING_PERIOD_SECONDS),
                name="user_batching_period_range",
            ),
            models.CheckConstraint(
                condition=Q(realm_name_in_email_notifications_policy__in=[1, 2, 3]),
                name="user_realm_name_policy_valid",
            ),
        ]
        indexes = [
            # The realm-name policy "automatic" asks whether an address belongs to more
            # than one active user (behaviour §4.8).
            models.Index(Lower("email"), name="user_email_lower"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.id})"


class Stream(models.Model):
    id = models.BigIntegerField(primary_key=True)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="streams")
    name = models.CharField(max_length=200)

    class Meta:
        constraints = [positive_id("stream")]

    def __str__(self) -> str:
        return f"#{self.name} ({self.id})"


class UserGroup(models.Model):
    id = models.BigIntegerField(primary_key=True)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="user_groups")
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(UserProfile, related_name="direct_groups", blank=True)
    subgroups = models.ManyToManyField(
        "self", symmetrical=False, related_name="supergroups", blank=True
    )

    class Meta:
        constraints = [positive_id("user_group")]

    def __str__(self) -> str:
        return f"@{self.name} ({self.id})"


class DirectConversation(models.Model):
    """The set of participants of a DM or group DM; its id is the threading anchor (§4.9).

    `participants_key` is the sorted, comma-joined participant ids, so the same people
    always map to the same conversation whatever order the host lists them in.
    """

    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="+")
    participants_key = models.CharField(max_length=2000, unique=True)
    participants = models.ManyToManyField(UserProfile, related_name="+")

    def __str__(self) -> str:
        return f"DM {self.participants_key}"

    def participant_ids(self) -> list[int]:
        return [int(part) for part in self.participants_key.split(",")]


class MessageType(models.TextChoices):
    STREAM = "stream"
    DIRECT = "direct"


class Message(models.Model):
    id = models.BigIntegerField(primary_key=True)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="+")
    sender = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=10, choices=MessageType.choices)
    stream = models.ForeignKey(
        Stream, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    topic = models.CharField(max_length=600, blank=True, default="")
    conversation = models.ForeignKey(
        DirectConversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    content = models.TextField()
    # NULL = the host sent no HTML and the composer renders `content` itself.
    rendered_content = models.TextField(null=True, blank=True)  # noqa: DJ001
    date_sent = models.DateTimeField()

    class Meta:
        constraints = [
            positive_id("message"),
            models.CheckConstraint(
                condition=(
                    Q(type="stream", stream__isnull=False, conversation__isnull=True)
                    | Q(type="direct", stream__isnull=True, conversation__isnull=False, topic="")
                ),
                name="message_type_matches_conversation",
            ),
        ]
        indexes = [
            # Mention context (behaviour §4.4): earlier messages of one stream by time.
            models.Index(fields=["stream", "date_sent"], name="message_stream_date"),
        ]

    def __str__(self) -> str:
        return f"message {self.id}"


class DeletedMessage(models.Model):
    """A tombstone, so an event about a message deleted meanwhile is skipped with the
    reason "deleted" (behaviour §3.1 step 3) instead of rejected as unknown."""

    id = models.BigIntegerField(primary_key=True)
    deleted_at = models.DateTimeField()


class UserMessageFlag:
    """Bit positions of the per-user flags; names as Zulip's API spells them."""

    READ = 1 << 0
    STARRED = 1 << 1
    COLLAPSED = 1 << 2
    MENTIONED = 1 << 3
    STREAM_WILDCARD_MENTIONED = 1 << 4
    TOPIC_WILDCARD_MENTIONED = 1 << 5
    GROUP_MENTIONED = 1 << 6
    HAS_ALERT_WORD = 1 << 7
    HISTORICAL = 1 << 8
    IS_PRIVATE = 1 << 9
    ACTIVE_MOBILE_PUSH_NOTIFICATION = 1 << 10

    BY_NAME = {
        "read": READ,
        "starred": STARRED,
        "collapsed": COLLAPSED,
        "mentioned": MENTIONED,
        "stream_wildcard_mentioned": STREAM_WILDCARD_MENTIONED,
        "wildcard_mentioned": STREAM_WILDCARD_MENTIONED,  # Zulip's legacy name
        "topic_wildcard_mentioned": TOPIC_WILDCARD_MENTIONED,
        "group_mentioned": GROUP_MENTIONED,
        "has_alert_word": HAS_ALERT_WORD,
        "historical": HISTORICAL,
        "is_private": IS_PRIVATE,
        "active_mobile_push_notification": ACTIVE_MOBILE_PUSH_NOTIFICATION,
    }
    ANY_MENTION = MENTIONED | STREAM_WILDCARD_MENTIONED | TOPIC_WILDCARD_MENTIONED | GROUP_MENTIONED

    @classmethod
    def names(cls, bits: int) -> list[str]:
        return [
            name for name, bit in cls.BY_NAME.items() if bits & bit and name != "wildcard_mentioned"
        ]


class UserMessage(models.Model):
    """That `user` received `message`, with their flags. No row: never shown to them."""

    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    flags = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "message"], name="usermessage_user_message"),
        ]
        indexes = [models.Index(fields=["message"], name="usermessage_message")]

    @property
    def is_read(self) -> bool:
        return bool(self.flags & UserMessageFlag.READ)
