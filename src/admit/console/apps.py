from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "admit.console"
    label = "console"
    verbose_name = "Super-admin console"
