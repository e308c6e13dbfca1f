from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings


class RemoteConfig(AppConfig):
    name = "admit.remote"
    label = "remote"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from admit.confirmations.engine import ConfirmationKind, register
        from admit.remote.flows.confirm_email import REMOTE_EMAIL

        register(
            ConfirmationKind(
                REMOTE_EMAIL,
                lambda: timedelta(seconds=settings.ADMIT_POLICY.remote.confirmation_max_age),
            )
        )
