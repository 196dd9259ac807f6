from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "missedmail.core"
    label = "core"
    verbose_name = "Chat data"
