from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "missedmail.api"
    label = "api"
    verbose_name = "HTTP API"
