from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker process, refreshed every few seconds while it runs."""

    name = models.CharField(max_length=200, primary_key=True, help_text="host:pid:random")
    kind = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    last_batch_at = models.DateTimeField(null=True, blank=True)
    emails_composed = models.BigIntegerField(default=0)
    emails_sent = models.BigIntegerField(default=0)
    stopped_at = models.DateTimeField(null=True, blank=True)
