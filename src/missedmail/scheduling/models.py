from __future__ import annotations

from django.db import models
from django.db.models import Q

from missedmail.core.models import Message, UserGroup, UserProfile
from missedmail.events import Trigger
from missedmail.skips import SkipReason


class TriggerChoices(models.TextChoices):
    DIRECT_MESSAGE = Trigger.DIRECT_MESSAGE.value
    MENTIONED = Trigger.MENTIONED.value
    TOPIC_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC = (
        Trigger.TOPIC_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC.value
    )
    STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC = (
        Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC.value
    )
    TOPIC_WILDCARD_MENTIONED = Trigger.TOPIC_WILDCARD_MENTIONED.value
    STREAM_WILDCARD_MENTIONED = Trigger.STREAM_WILDCARD_MENTIONED.value
    FOLLOWED_TOPIC_EMAIL_NOTIFY = Trigger.FOLLOWED_TOPIC_EMAIL_NOTIFY.value
    STREAM_EMAIL_NOTIFY = Trigger.STREAM_EMAIL_NOTIFY.value


class ScheduledNotification(models.Model):
    """One (user, message, trigger) waiting to be emailed at `scheduled_timestamp`.

    At most one row per (user, message): a second event for the pair keeps the stronger
    trigger (behaviour §1), so broker redeliveries are harmless.
    """

    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=64, choices=TriggerChoices.choices)
    mentioned_user_group = models.ForeignKey(
        UserGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scheduled_timestamp = models.DateTimeField()
    created_at = models.DateTimeField()
    # How many times composing this user's batch failed; after a few, the rows are given up
    # with a recorded reason instead of looping forever (docs/decisions/0004).
    compose_failures = models.SmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "message"], name="scheduled_user_message"),
            models.CheckConstraint(
                condition=Q(trigger__in=[t.value for t in Trigger]), name="scheduled_trigger_valid"
            ),
        ]
        indexes = [
            # The batcher's due query and its "earliest pending" query.
            models.Index(fields=["scheduled_timestamp"], name="scheduled_due"),
        ]

    @property
    def trigger_enum(self) -> Trigger:
        return Trigger(self.trigger)


class EventSource(models.TextChoices):
    QUEUE = "queue"
    API = "api"
    CLI = "cli"


class RejectedEvent(models.Model):
    """An event that was not a valid missed-message event (contract §3); never retried."""

    received_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=10, choices=EventSource.choices)
    # The raw event, cut to a few KB. Events carry ids, not message content.
    payload = models.TextField()
    reason = models.TextField()
    field = models.CharField(max_length=64, blank=True, default="")
    user_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            # A user's page and the rejected-events filter by user (ops/userpage.py).
            models.Index(fields=["user_id", "-received_at"], name="rejected_user_recent"),
        ]


__all__ = [
    "EmailedNotification",
    "EventSource",
    "NotificationSkip",
    "RejectedEvent",
    "ScheduledNotification",
    "SkipReason",
    "TriggerChoices",
]


class NotificationSkip(models.Model):
    """Notifications of one user that did not become an email, and why."""

    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="+")
    message_ids = models.JSONField()
    reason = models.CharField(max_length=32, choices=SkipReason.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "-at"], name="skip_user_recent"),
            models.Index(fields=["at"], name="skip_at"),
        ]


class EmailedNotification(models.Model):
    """A (user, message) that has gone into an email: the ledger that makes a repeated event
    harmless after its batch has left.

    The scheduled row is deleted when its email is enqueued, so without this a broker
    redelivery (a worker killed between its commit and its ack, an ack lost with the
    connection) or a host that publishes the same event twice would schedule the message
    again and email it twice. Plain ids, no foreign keys: a ledger entry must never make a
    batch fail because the host deleted the message meanwhile. Kept for
    `EMAILED_RETENTION` (scheduling/emailed.py), then forgotten.
    """

    user_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    emailed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "message_id"], name="emailed_user_message")
        ]
        indexes = [models.Index(fields=["emailed_at"], name="emailed_at")]
