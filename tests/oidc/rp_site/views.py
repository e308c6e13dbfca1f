"""The site's pages and its OpenID Connect glue.

- ``/``: protected; shows who is signed in, from the claims admit sent, and a log-out button.
- ``/logged-out/``: where admit's end-session sends the browser back (post_logout_redirect_uri).
- ``/failed/``: where mozilla-django-oidc sends a failed log-in (LOGIN_REDIRECT_URL_FAILURE).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.html import escape
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 2rem"><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str) -> HttpResponse:
    return HttpResponse(PAGE.format(title=escape(title), body=body))


class AdmitBackend(OIDCAuthenticationBackend):
    """Accounts matched on admit's ``sub`` (kept as the Django username), not on the e-mail
    address, which can change: what docs/oidc.md advises. The claims shown on the home page
    are copied at every log-in."""

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        sub = claims.get("sub")
        return self.UserModel.objects.filter(username=sub) if sub else self.UserModel.objects.none()

    def create_user(self, claims: dict[str, Any]) -> Any:
        user = self.UserModel.objects.create_user(claims["sub"], claims.get("email", ""))
        return self.update_user(user, claims)

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        user.email = claims.get("email", "")
        user.first_name = claims.get("preferred_username", "")[:150]
        user.last_name = claims.get("name", "")[:150]
        user.save()
        return user


def admit_logout_url(request: HttpRequest) -> str:
    """RP-initiated logout at admit: ends the admit session too, then comes back here."""
    query = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(settings.LOGOUT_REDIRECT_URL),
    }
    id_token = request.session.get("oidc_id_token")
    if id_token:
        query["id_token_hint"] = id_token
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{urlencode(query)}"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    body = (
        f'<p id="who">Signed in as <strong id="username">{escape(user.first_name)}</strong>'
        f' (<span id="email">{escape(user.email)}</span>), admit id'
        f' <code id="sub">{escape(user.username)}</code>.</p>'
        '<form method="post" action="/oidc/logout/">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
        '<button type="submit">Log out</button></form>'
    )
    return _page("Example site", body)


def logged_out(request: HttpRequest) -> HttpResponse:
    state = "still signed in" if request.user.is_authenticated else "signed out"
    return _page("Logged out", f'<p id="state">You are {state}.</p><p><a href="/">Home</a></p>')


def failed(request: HttpRequest) -> HttpResponse:
    return _page("Log-in failed", "<p>The log-in did not succeed.</p>")
