from django.apps import AppConfig


class ConfirmationsConfig(AppConfig):
    name = "admit.confirmations"
    label = "confirmations"
    default_auto_field = "django.db.models.BigAutoField"
