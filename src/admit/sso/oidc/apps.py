from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "admit.sso.oidc"
    label = "oidc"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "OpenID Connect"
