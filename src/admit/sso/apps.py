from datetime import timedelta

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _seconds(section: str, key: str):
    return lambda: timedelta(seconds=getattr(getattr(settings.ADMIT_POLICY, section), key))


class SsoConfig(AppConfig):
    name = "admit.sso"
    label = "sso"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from admit.confirmations.engine import ConfirmationKind, register
        from admit.sso.flows.email_change import (
            EMAIL_CHANGE,
            describe_email_change,
            on_email_change_confirmed,
        )
        from admit.sso.flows.reset import RESET_KEY, RESET_TOKEN
        from admit.sso.flows.signup import (
            SIGNUP,
            SIGNUP_EMAIL_TAKEN,
            describe_signup,
            on_signup_confirmed,
            on_taken_email_confirmed,
        )
        from admit.sso.rules import load_hook

        signup_validity = _seconds("signup", "confirm_token_max_age")
        for name, action in (
            (SIGNUP, on_signup_confirmed),
            (SIGNUP_EMAIL_TAKEN, on_taken_email_confirmed),
        ):
            register(
                ConfirmationKind(name, signup_validity, "signup.confirm", describe_signup, action)
            )
        register(
            ConfirmationKind(
                EMAIL_CHANGE,
                signup_validity,
                "user.email_change.confirm",
                describe_email_change,
                on_email_change_confirmed,
            )
        )
        register(ConfirmationKind(RESET_TOKEN, _seconds("reset", "token_max_age")))
        register(ConfirmationKind(RESET_KEY, _seconds("reset", "reset_key_max_age")))

        hook = settings.ADMIT_POLICY.signup.validation_hook
        if hook:
            try:
                load_hook(hook)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"admit.toml: [signup] validation_hook {hook!r} cannot be imported: {exc}"
                ) from exc
