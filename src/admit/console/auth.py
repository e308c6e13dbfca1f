"""Who is at the console, and at the Django admin: one log-in for both.

Both read the super-user's SSO session (``ust``) that ``/login/`` keeps in the web session
(``admit_ust``). The Django admin (``/admin/``) is ``ConsoleAdminSite``: it lets in the same
people as the console, with the same log-in page, and never shows a log-in form of its own (a
second form would take only the password: no TOTP, no pauses after failed log-ins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from admit.core.errors import AdmitError, Code
from admit.http.requests import caller_of
from admit.sso import flows
from admit.sso.models import User

SESSION_KEY = "admit_ust"  # where /login/ keeps the ust (admit.sso.views.UST)
APP_KEY = "admit_app"  # and the app it logged in to (admit.sso.views.APP)


@dataclass(frozen=True)
class Visitor:
    ust: str = ""
    admin: User | None = None  # a live super-user's session
    forbidden: bool = False  # a live session of someone who is not a super-user


def visitor(request: HttpRequest) -> Visitor:
    """Whose SSO session the web session holds: a super-user's, someone else's, or none (no
    session, or one that has ended or expired)."""
    ust = request.session.get(SESSION_KEY, "")
    if not isinstance(ust, str) or not ust:
        return Visitor()
    try:
        return Visitor(ust, flows.superuser_for(ust))
    except AdmitError as error:
        return Visitor(forbidden=Code.SUPERUSER_REQUIRED in error.codes)


def to_login(request: HttpRequest, next_page: str = "") -> HttpResponse:
    return redirect("/login/?" + urlencode({"next": next_page or request.get_full_path()}))


def forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "console/forbidden.html", status=403)


class ConsoleAdminSite(admin.AdminSite):
    """Django's admin behind the console's log-in: a super-user logged in at ``/login/`` opens
    ``/admin/`` without logging in again; anyone else is sent to ``/login/`` or refused."""

    site_header = "admit administration"

    def has_permission(self, request: HttpRequest) -> bool:
        found = visitor(request)
        if found.admin is None:
            return False
        # The admin acts as ``request.user`` (its checks, its change log): the super-user whose
        # session this is, for this request, whatever Django's own session auth says.
        request.user = found.admin
        return True

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        found = visitor(request)
        if found.forbidden:
            return forbidden(request)
        next_page = request.GET.get("next", "")
        # Django's own check: "/\\host" and the like are off-site too, for a browser.
        on_site = url_has_allowed_host_and_scheme(next_page, allowed_hosts=None)
        if not on_site or not next_page.startswith("/"):
            next_page = reverse("admin:index", current_app=self.name)
        if found.admin is not None:
            return redirect(next_page)
        return to_login(request, next_page)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        """The account page changes passwords: with admit's rules, ending the other sessions."""
        return redirect("/account/password/")

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """Logging out of the admin ends the SSO session too, as ``/logout/`` does."""
        ust = request.session.get(SESSION_KEY)
        if isinstance(ust, str) and ust:
            flows.logout(ust, request.session.get(APP_KEY, ""), caller_of(request))
        return super().logout(request, extra_context)
