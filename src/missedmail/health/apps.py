from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "missedmail.health"
    label = "health"
    verbose_name = "Health"
