from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "missedmail.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
