"""Why notifications did not become an email (behaviour §9, "accountable").

At the bottom layer because the composer decides most of these and the scheduling records
store them; neither imports the other.
"""

from django.db import models


class SkipReason(models.TextChoices):
    READ = "read", "read before the email was due"
    DELETED = "deleted", "message deleted"
    NOT_RECEIVED = "not_received", "user did not receive the message"
    CONTENT_DELETED = "content_deleted", "message content is (deleted)"
    NOTIFICATIONS_OFF = "notifications_off", "missed-message emails turned off"
    USER_DEACTIVATED = "user_deactivated", "user deactivated"
    USER_IS_BOT = "user_is_bot", "user is a bot"
    NO_EMAIL_ADDRESS = "no_email_address", "user has no email address"
    REALM_DEACTIVATED = "realm_deactivated", "organisation deactivated"
    STAGING = "staging", "staging mode: not sent"
    COMPOSE_FAILED = "compose_failed", "composing the email failed repeatedly"
    CANCELLED = "cancelled", "cancelled by an operator"
