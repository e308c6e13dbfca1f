"""The pages people use: sign up, log in and out, reset a password, and their account.

Thin adapters like the API: each parses its form, calls one flow, and renders its result or
its error. Errors are told in plain words next to the field they concern, never as codes,
and only the codes ``admit.sso.disclosure`` lets a caller see.

A log-in keeps the flow's ``ust`` in the Django session (``admit_ust``); the account pages
call the flows with it, and a session that has ended sends the person back to log in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from admit.core import clock, totp
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import RateLimited
from admit.core.requests import caller_of
from admit.core.secrets import digest
from admit.sso import flows
from admit.sso.disclosure import visible_codes
from admit.sso.flows.session_pages import end_session_by_id
from admit.sso.forms import (
    EndSessionForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    ResetAskForm,
    ResetSetForm,
    SignupForm,
    TotpForm,
)
from admit.sso.passwords import check_new_password
from admit.sso.rules import SignupRequest

UST = "admit_ust"
APP = "admit_app"
PENDING_TOTP = "admit_pending_totp"
FORM = "form"
Problems = dict[str, list[str]]

# Which field each code concerns; the sentence is in ``_sentence``.
_FIELD_BY_PREFIX = {"E001": "username", "E002": "email", "E003": "password"}


def _sentence(code: str, on: str = "") -> str:
    policy = settings.ADMIT_POLICY
    sentences = {
        Code.USERNAME_INVALID: "This username cannot be used: it is empty, has invisible"
        " characters or contains a reserved word. Choose another one.",
        Code.USERNAME_EXISTS: "This username is taken. Choose another one.",
        Code.USERNAME_TOO_LONG: "This username is too long: use at most"
        f" {policy.user_validation.username_max_length} characters.",
        Code.USERNAME_HAS_WHITESPACE: "A username cannot contain spaces.",
        Code.EMAIL_INVALID: "This is not an e-mail address we can use. Check it for typos.",
        Code.EMAIL_EXISTS: "This e-mail address already has an account.",
        Code.EMAIL_TOO_LONG: "This e-mail address is too long: at most"
        f" {policy.user_validation.email_max_length} characters.",
        Code.EMAIL_HAS_WHITESPACE: "An e-mail address cannot contain spaces.",
        Code.EMAIL_MISSING: "Enter your e-mail address.",
        Code.PASSWORD_COMMON: "This password is one of the most common ones."
        " Choose one that is harder to guess.",
        Code.PASSWORD_TOO_SHORT: "This password is too short: use at least"
        f" {policy.password.min_length} characters.",
        Code.PASSWORD_TOO_LONG: "This password is too long: use at most"
        f" {policy.password.max_length} characters.",
        Code.PASSWORD_EXPIRED: "Your password has expired. Choose a new one with"
        " “Forgot your password?”.",
        Code.PASSWORD_MUST_CHANGE: "You must choose a new password before you continue."
        " Enter your current password again and a new one.",
        Code.APP_INVALID: "This application is unknown or does not let people log in here.",
        Code.APP_SIGNUP_NOT_ALLOWED: "This application does not take sign-ups.",
        Code.USER_LOCKED: "This account is locked. Ask the administrators to unlock it.",
        Code.USER_NOT_CONFIRMED: "You have not confirmed your e-mail address yet. Open the"
        " link in the e-mail we sent you when you signed up, then log in.",
        Code.USER_NOT_APPROVED: "Your sign-up is waiting for approval. We will e-mail you"
        " when it is approved; you can log in then.",
        Code.NO_SUCH_CONFIRM_TOKEN: "This reset token is unknown or has expired."
        " Ask for a new one.",
        Code.ALREADY_CONFIRMED: "This reset token was already used. Ask for a new one.",
        Code.TOTP_CODE_REQUIRED: "Enter the 6-digit code from your authenticator app.",
        Code.TOTP_CODE_INVALID: "This code is wrong or was already used."
        " Wait for the next one and try again.",
    }
    generic = {
        "signup": "We could not sign you up with these details.",
        "login": "The username or the password is not right.",
        "change": "The current password is not right.",
    }
    if code == Code.NOT_ALLOWED or code not in sentences:
        return generic.get(on, "This could not be done.")
    return sentences[Code(code)]


def _problems(error: AdmitError, on: str, fields: dict[str, str] | None = None) -> Problems:
    """The visible codes of ``error`` as sentences, by the field they concern.

    ``fields`` renames a code's field for a form (the reset page's password is
    ``new_password``); codes of no field are the form's."""
    fields = fields or {}
    if isinstance(error, RateLimited):
        minutes = math.ceil(error.retry_after / 60)
        plural = "s" if minutes != 1 else ""
        return {FORM: [f"Too many attempts. Try again in {minutes} minute{plural}."]}
    found: Problems = {}
    for code in visible_codes(error):
        field = fields.get(code) or fields.get(code[:4]) or _FIELD_BY_PREFIX.get(code[:4], FORM)
        sentence = _sentence(code, on)
        if sentence not in found.setdefault(field, []):
            found[field].append(sentence)
    return found


def _status(error: AdmitError) -> int:
    return 429 if error.http_status == 429 else 400


def _app(request: HttpRequest, allowed: list[str] | tuple[str, ...]) -> str | None:
    """The app named by ``?app=`` when it is allowed, else the first allowed one."""
    asked = request.GET.get("app", "")
    if asked:
        return asked if asked in allowed else None
    return allowed[0] if allowed else None


# Sign-up


@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    policy = settings.ADMIT_POLICY
    app = _app(request, list(policy.apps.signup_allowed)) if policy.signup.enabled else None
    if app is None:
        return render(request, "sso/signup_closed.html", status=404)
    form = SignupForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {
        "app": app,
        "values": {},
        "errors": {},
        "password_hint": f"At least {policy.password.min_length} characters.",
    }
    if not form.is_bound:
        return render(request, "sso/signup.html", context)
    data = form.cleaned_data if form.is_valid() else {}
    context["values"] = {k: v for k, v in data.items() if k != "password"}
    if not data:
        typed = ("username", "email", "display_name")
        context["values"] = {name: request.POST.get(name, "") for name in typed}
        context["errors"] = {name: list(errs) for name, errs in form.errors.items()}
        return render(request, "sso/signup.html", context, status=400)
    try:
        flows.signup(
            SignupRequest(
                username=data["username"],
                password=data["password"],
                email=data["email"],
                current_app=app,
                app_list=[app],
                display_name=data["display_name"],
            ),
            caller_of(request),
        )
    except AdmitError as error:
        context["errors"] = _problems(error, "signup")
        return render(request, "sso/signup.html", context, status=_status(error))
    return render(
        request,
        "sso/signup_done.html",
        {
            "email": data["email"],
            "confirmation_required": policy.signup.confirmation_required,
            "approval_required": policy.signup.approval_required,
        },
    )


# Log-in and log-out


def _next_page(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    local = wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts=set(), require_https=request.is_secure()
    )
    return wanted if local else "/account/"


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    app = _app(request, list(settings.ADMIT_POLICY.apps.login_allowed))
    next_page = _next_page(request)
    context: dict[str, Any] = {
        "values": {},
        "errors": {},
        "next": next_page if next_page != "/account/" else "",
        "ask_totp": False,
        "ask_new_password": False,
    }
    if app is None:
        context["errors"] = {FORM: [_sentence(Code.APP_INVALID)]}
        return render(request, "sso/login.html", context, status=404)
    if request.method != "POST":
        return render(request, "sso/login.html", context)
    form = LoginForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    context["values"] = {"username": data.get("username", "")}
    context["ask_totp"] = bool(data.get("totp_code")) or "totp_step" in request.POST
    context["ask_new_password"] = "new_password_step" in request.POST
    if not data:
        context["errors"] = {FORM: [_sentence(Code.NOT_ALLOWED, "login")]}
        return render(request, "sso/login.html", context, status=400)
    try:
        result = flows.login(
            flows.LoginRequest(
                username=data["username"],
                password=data["password"],
                current_app=app,
                totp_code=data["totp_code"],
                new_password=data["new_password"],
            ),
            caller_of(request),
        )
    except AdmitError as error:
        shown = visible_codes(error)
        context["ask_totp"] |= bool({Code.TOTP_CODE_REQUIRED, Code.TOTP_CODE_INVALID} & set(shown))
        context["ask_new_password"] |= Code.PASSWORD_MUST_CHANGE in shown
        # At the new-password step, the password rules speak of the new one.
        renamed = {"E003": "new_password"} if context["ask_new_password"] else {}
        renamed.update({"E006": "totp_code", Code.PASSWORD_MUST_CHANGE: FORM})
        context["errors"] = _problems(error, "login", renamed)
        return render(request, "sso/login.html", context, status=_status(error))
    request.session.cycle_key()
    request.session[UST] = result.ust
    request.session[APP] = app
    if Code.PASSWORD_EXPIRING in result.warnings:
        messages.warning(request, "Your password expires soon. Change it on your account page.")
    return redirect(next_page)


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    ust = request.session.get(UST)
    if ust:
        flows.logout(ust, request.session.get(APP, ""), caller_of(request))
    request.session.flush()
    return redirect("/login/")


# Password reset


@require_http_methods(["GET", "POST"])
def reset_ask_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "sso/reset_ask.html", {"values": {}, "errors": {}})
    form = ResetAskForm(request.POST)
    if not form.is_valid():
        errors = {name: list(errs) for name, errs in form.errors.items()}
        context = {"values": {"credential": request.POST.get("credential", "")}, "errors": errors}
        return render(request, "sso/reset_ask.html", context, status=400)
    credential = form.cleaned_data["credential"]
    app = _app(request, list(settings.ADMIT_POLICY.apps.all)) or ""
    try:
        flows.request_reset(credential, app, caller_of(request))
    except AdmitError as error:
        context = {"values": {"credential": credential}, "errors": _problems(error, "reset")}
        return render(request, "sso/reset_ask.html", context, status=_status(error))
    return render(request, "sso/reset_sent.html")


@require_http_methods(["GET", "POST"])
def reset_set_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"values": {"token": request.GET.get("token", "")}, "errors": {}}
    if request.method != "POST":
        return render(request, "sso/reset_set.html", context)
    form = ResetSetForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    context["values"] = {"token": data.get("token", "")}
    if form.errors:
        context["errors"] = {name: list(errs) for name, errs in form.errors.items()}
        return render(request, "sso/reset_set.html", context, status=400)
    caller = caller_of(request)
    renamed = {"E003": "new_password", "E005": "token"}
    try:
        # Judged before the token is spent, so a refused password costs no new e-mail.
        check_new_password(data["new_password"])
        reset_key = flows.open_reset(data["token"].strip(), caller)
        flows.finish_reset(data["token"].strip(), reset_key, data["new_password"], caller)
    except AdmitError as error:
        context["errors"] = _problems(error, "reset", renamed)
        return render(request, "sso/reset_set.html", context, status=_status(error))
    return render(request, "sso/reset_done.html")


# The account pages


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
        "others": sum(not s["current"] for s in sessions),
        "values": values,
        "errors": {},
        "section": "",
    }
    return render(request, "sso/account.html", {**base, **context}, status=status)


@require_http_methods(["GET"])
@needs_login
def account_page(request: HttpRequest, ust: str) -> HttpResponse:
    return _account(request, ust)


def _refused(request: HttpRequest, ust: str, error: AdmitError, section: str, **kw: Any) -> Any:
    if set(error.codes) & _ENDED:
        raise error
    return _account(request, ust, _status(error), section=section, **kw)


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
        problems = _problems(error, "profile")
        return _refused(request, ust, error, "profile", errors=problems, values=form.cleaned_data)
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
        errors = _problems(error, "change", {"E003": "new_password"})
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
        context["errors"] = {"code": [_sentence(Code.TOTP_CODE_INVALID)]}
        return render(request, "sso/totp.html", context, status=400)
    try:
        flows.enable_totp(ust, key, user.username, caller_of(request), data["current_code"].strip())
    except AdmitError as error:
        if set(error.codes) & _ENDED:
            raise
        context["errors"] = _problems(error, "totp", {"E006": "current_code"})
        return render(request, "sso/totp.html", context, status=_status(error))
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
