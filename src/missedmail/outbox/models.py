from __future__ import annotations

from django.db import models
from django.db.models import Q

from missedmail.core.models import Message, Realm, UserProfile


class EmailStatus(models.TextChoices):
    """The outbox state machine (docs/decisions/0003-outbox.md).

    queued → sending → sent
                     ↘ retrying → sending …   (transient failure, backoff)
                     ↘ failed                 (permanent failure or attempts exhausted)
    A `sending` row whose lease has expired belonged to a sender that died; it is claimed
    again, so a crash repeats at most that one email, with the same Message-ID.
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


class OutboundEmail(models.Model):
    # No index of their own (migration 0005): each new version of a row goes into every
    # index (a status change is never a HOT update), and nothing reads these two alone.
    # A user's emails are read, and a deleted user's found, through `email_user_recent`,
    # which leads with `user`; nothing reads by realm (a deleted realm's emails are found by
    # a scan, once).
    user = models.ForeignKey(
        UserProfile, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="+", db_index=False)
    message_ids = models.JSONField()
    subject = models.TextField()
    to_address = models.CharField(max_length=254)
    envelope_from = models.CharField(max_length=254)
    # Unique by the constraint in Meta, not `unique=True`, which on PostgreSQL also builds
    # a second index for LIKE searches that nothing makes.
    message_id_header = models.CharField(max_length=255)
    thread_root = models.CharField(max_length=255)
    mime = models.BinaryField(help_text="The whole RFC 5322 message, sent as is on every attempt")
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.IntegerField(default=0, help_text="Attempts started (counted at claim)")
    next_attempt_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Who holds the lease: a sender records a failure only while it still holds it, so a
    # slow sender whose lease expired cannot overwrite the outcome of the one that took over.
    lease_owner = models.CharField(max_length=200, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_response = models.TextField(blank=True, default="")
    due_at = models.DateTimeField(help_text="When the batch fell due (latency = sent_at - due_at)")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The name PostgreSQL gave the column's UNIQUE in migration 0001, kept as it is.
            models.UniqueConstraint(
                fields=["message_id_header"], name="outbox_outboundemail_message_id_header_key"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in EmailStatus]), name="email_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False),
                name="email_sending_has_lease",
            ),
        ]
        indexes = [
            # The sender's claim query: only rows still to deliver, in the claim's order
            # (time, then id), so a claim reads its `limit` first entries and stops instead
            # of sorting every ready row. Also the ready backlog's count and the wake-up time.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status__in=["queued", "retrying"]),
                name="email_ready",
            ),
            # The claim's expired leases and the wake-up time.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="email_leased",
            ),
            # A user's emails, newest first (ops: the user page and the email list filtered
            # by user; api/history.py); a deleted user's emails.
            models.Index(fields=["user", "-created_at"], name="email_user_recent"),
            # Emails by status and time (ops: activity, figures, the filtered email list;
            # outbox/operations.py: the failed emails).
            models.Index(fields=["status", "updated_at"], name="email_status_updated"),
        ]


class AttemptOutcome(models.TextChoices):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    # The sender stopped (crash, kill) before recording the outcome; its lease expired and
    # the email was claimed again. The server may or may not have accepted that attempt.
    LOST = "lost"


class DeliveryAttempt(models.Model):
    email = models.ForeignKey(OutboundEmail, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.IntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    response = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            # The dashboard's "retried in the last hour/day" figures (ops/activity.py).
            models.Index(fields=["finished_at"], name="attempt_finished"),
        ]


class ReplyAddress(models.Model):
    """`mm` + 32 hex: where a reply to an email goes (behaviour §2); no expiry, reusable."""

    token = models.CharField(max_length=34, primary_key=True)
    user = models.ForeignKey(UserProfile, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    uses = models.IntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(token__regex=r"^mm[0-9a-f]{32}$"),  # noqa: S106 -- a pattern
                name="reply_token_format",
            ),
        ]
