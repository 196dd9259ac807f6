from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "missedmail.outbox"
    label = "outbox"
    verbose_name = "Outbox"
