"""admit as an OpenID Connect provider, on django-oauth-toolkit (docs/oidc.md)."""
