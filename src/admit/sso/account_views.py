"""A person's account pages: profile, password, two-step verification, their sessions and the
apps they allowed to use their account (OpenID Connect consents).

Each runs with the ``ust`` that the log-in page keeps in the Django session; without a live
one (never logged in, logged out elsewhere, expired) the person is sent to log in again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from admit.core import clock, totp
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import RateLimited
from admit.core.secrets import digest
from admit.http.requests import caller_of
from admit.http.statuses import page_status
from admit.sso import flows
from admit.sso.flows.end_session_by_id import end_session_by_id
from admit.sso.forms import (
    EndSessionForm,
    PasswordChangeForm,
    ProfileForm,
    RevokeAppForm,
    TotpForm,
)
from admit.sso.oidc import consents
from admit.sso.page_copy import FORM, problems, sentence
from admit.sso.views import UST

PENDING_TOTP = "admit_pending_totp"  # the new key shown, until a code from it turns it on

View = Callable[..., HttpResponse]
_ENDED = {Code.NO_SUCH_SESSION, Code.SESSION_EXPIRED}


def _to_login(request: HttpRequest) -> HttpResponseRedirect:
    request.session.flush()
    target = request.get_full_path() if request.method == "GET" else "/account/"
    return redirect("/login/?" + urlencode({"next": target}))


def needs_login(view: View) -> View:
    """Runs ``view(request, ust)`` with the session's ``ust``; without a live one, log in."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ust = request.session.get(UST)
        if not ust:
            return _to_login(request)
        try:
            return view(request, ust, *args, **kwargs)
        except AdmitError as error:
            if set(error.codes) & _ENDED:
                return _to_login(request)
            raise

    return wrapped


def _qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", border=2)


def _account(request: HttpRequest, ust: str, status: int = 200, **context: Any) -> HttpResponse:
    user = flows.get_user(ust)
    current = digest(ust)
    sessions = []
    for session in flows.list_sessions(ust):
        events = list(session.events.all())
        sessions.append(
            {
                "id": session.pk,
                "user_agent": session.user_agent or "unknown device",
                "address": session.remote_ip or "unknown address",
                "created": session.created_at,
                "last_active": events[-1].at if events else session.created_at,
                "current": session.ust_digest == current,
            }
        )
    values = {
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }
    values.update(context.pop("values", {}))
    base = {
        "user": user,
        "sessions": sessions,
        "apps": consents.apps_with_access(user),
        "others": sum(not s["current"] for s in sessions),
        "values": values,
        "errors": {},
        "section": "",
        "console_link": user.is_staff,  # an active super-user
    }
    return render(request, "sso/account.html", {**base, **context}, status=status)


@require_http_methods(["GET"])
@needs_login
def account_page(request: HttpRequest, ust: str) -> HttpResponse:
    return _account(request, ust)


def _refused(request: HttpRequest, ust: str, error: AdmitError, section: str, **kw: Any) -> Any:
    if set(error.codes) & _ENDED:
        raise error
    return _account(request, ust, page_status(error), section=section, **kw)


@require_POST
@needs_login
def profile_page(request: HttpRequest, ust: str) -> HttpResponse:
    form = ProfileForm(request.POST)
    if not form.is_valid():
        errors = {name: list(errs) for name, errs in form.errors.items()}
        return _account(request, ust, 400, section="profile", errors=errors)
    try:
        flows.update_user(ust, dict(form.cleaned_data), caller_of(request))
    except AdmitError as error:
        told = problems(error, "profile")
        return _refused(request, ust, error, "profile", errors=told, values=form.cleaned_data)
    messages.success(request, "Your profile is saved.")
    return redirect("/account/")


@require_POST
@needs_login
def password_page(request: HttpRequest, ust: str) -> HttpResponse:
    form = PasswordChangeForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {"old_password": "", "new_password": ""}
    try:
        flows.change_password(
            ust, data["new_password"], caller_of(request), old_password=data["old_password"]
        )
    except AdmitError as error:
        errors = problems(error, "change", {"E003": "new_password"})
        if not isinstance(error, RateLimited) and FORM in errors:
            errors["old_password"] = errors.pop(FORM)
        return _refused(request, ust, error, "password", errors=errors)
    messages.success(request, "Your password is changed. Your other sessions have ended.")
    return redirect("/account/")


@require_http_methods(["GET", "POST"])
@needs_login
def totp_page(request: HttpRequest, ust: str) -> HttpResponse:
    """A new key is shown (QR code and text) and turned on only once the person has typed a
    code from it; replacing a key also needs a code from the current one."""
    user = flows.get_user(ust)
    key = request.session.get(PENDING_TOTP) if request.method == "POST" else None
    if not key:
        key = totp.new_secret()
        request.session[PENDING_TOTP] = key
    uri = totp.provisioning_uri(key, user.username)
    context: dict[str, Any] = {
        "user": user,
        "key": " ".join(key[i : i + 4] for i in range(0, len(key), 4)),
        "uri": uri,
        "qr": mark_safe(_qr_svg(uri)),  # noqa: S308 - segno's own markup, no user input
        "errors": {},
    }
    if request.method != "POST":
        return render(request, "sso/totp.html", context)
    form = TotpForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {"code": "", "current_code": ""}
    if totp.matching_step(key, data["code"].strip(), clock.now(), None) is None:
        context["errors"] = {"code": [sentence(Code.TOTP_CODE_INVALID)]}
        return render(request, "sso/totp.html", context, status=400)
    try:
        flows.enable_totp(ust, key, user.username, caller_of(request), data["current_code"].strip())
    except AdmitError as error:
        if set(error.codes) & _ENDED:
            raise
        context["errors"] = problems(error, "totp", {Code.TOTP_CODE_MISSING: "current_code"})
        if Code.TOTP_CODE_INVALID in error.codes:  # the API says only E005001; the owner may know
            context["errors"] = {"current_code": [sentence(Code.TOTP_CODE_INVALID)]}
        return render(request, "sso/totp.html", context, status=page_status(error))
    del request.session[PENDING_TOTP]
    messages.success(request, "Two-step verification is on. Log-ins now ask for a code.")
    return redirect("/account/")


@require_POST
@needs_login
def end_session_page(request: HttpRequest, ust: str) -> HttpResponse:
    form = EndSessionForm(request.POST)
    if not form.is_valid():
        return _account(request, ust, 400, section="sessions", errors={FORM: ["No such session."]})
    try:
        end_session_by_id(ust, form.cleaned_data["session_id"], caller_of(request))
    except AdmitError as error:
        if set(error.codes) & _ENDED:
            raise
        errors = {FORM: ["This session has already ended, or it is not yours."]}
        return _account(request, ust, 404, section="sessions", errors=errors)
    messages.success(request, "The session has ended.")
    return redirect("/account/#sessions")


@require_POST
@needs_login
def end_other_sessions_page(request: HttpRequest, ust: str) -> HttpResponse:
    ended = flows.end_other_sessions(ust, caller_of(request))
    plural = "s" if ended != 1 else ""
    messages.success(request, f"{ended} other session{plural} ended.")
    return redirect("/account/#sessions")


@require_POST
@needs_login
def revoke_app_page(request: HttpRequest, ust: str) -> HttpResponse:
    """Take back an app's access: the consent, and every code and token it holds for this
    person (the person's admit sessions stay). Only the person's own consent is touched."""
    form = RevokeAppForm(request.POST)
    user = flows.get_user(ust)
    if not form.is_valid() or not consents.revoke(
        user, form.cleaned_data["client_id"], caller_of(request)
    ):
        errors = {FORM: ["That app has no access to your account."]}
        return _account(request, ust, 404, section="apps", errors=errors)
    messages.success(request, "The app no longer has access to your account.")
    return redirect("/account/#apps")
