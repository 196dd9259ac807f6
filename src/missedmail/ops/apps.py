from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "missedmail.ops"
    label = "ops"
    verbose_name = "Operations"
