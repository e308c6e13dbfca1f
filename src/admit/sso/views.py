"""The pages people use to get in: sign up, log in and out, reset a password. Their account
pages are ``admit.sso.account_views``.

Thin adapters like the API: each parses its form, calls one flow, and renders its result or
its error. Errors are told in plain words next to the field they concern, never as codes
(``admit.sso.page_copy``).

A log-in keeps the flow's ``ust`` in the Django session (``admit_ust``); the account pages
call the flows with it, and a session that has ended sends the person back to log in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from admit.core.errors import AdmitError, Code
from admit.http.headers import allow_form_targets
from admit.http.requests import caller_of
from admit.http.statuses import page_status
from admit.sso import flows
from admit.sso.disclosure import visible_codes
from admit.sso.forms import LoginForm, ResetAskForm, ResetSetForm, SignupForm
from admit.sso.oidc.clients import return_address
from admit.sso.page_copy import FORM, problems, sentence
from admit.sso.passwords import check_new_password
from admit.sso.rules import SignupRequest, local_path

AUTHORIZE = "/oidc/authorize/"  # the OpenID Connect authorization endpoint (admit.sso.oidc)
UST = "admit_ust"
APP = "admit_app"


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
    return_to = _wanted_path(request)
    context: dict[str, Any] = {
        "app": app,
        "next": return_to,
        "login_link": "/login/?" + urlencode({"app": app, "next": return_to}) if return_to else "",
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
                return_to=return_to,
            ),
            caller_of(request),
            token_in_answer=False,  # the page shows no token: only the e-mail carries it
        )
    except AdmitError as error:
        context["errors"] = problems(error, "signup")
        return render(request, "sso/signup.html", context, status=page_status(error))
    return render(
        request,
        "sso/signup_done.html",
        {
            "email": data["email"],
            "confirmation_required": policy.signup.confirmation_required,
            "approval_required": policy.signup.approval_required,
            "app": app,
            "next": return_to,
        },
    )


# Log-in and log-out


def _wanted_path(request: HttpRequest) -> str:
    """The ``next`` of the form or the address when it is a path on this site, else ""."""
    return local_path(request.POST.get("next") or request.GET.get("next") or "")


def _login_links(request: HttpRequest, app: str | None, wanted: str) -> dict[str, str]:
    """The log-in page's ways out that keep where the person was going: "Sign up" (the
    sign-up remembers ``next``), and, when an OpenID Connect client sent them, "Return to
    <app> without logging in" (the authorize endpoint answers ``cancel`` with access_denied)."""
    asked_app = request.GET.get("app", "")
    query = {"app": asked_app} if asked_app else {}
    if wanted:
        query["next"] = wanted
    links = {"signup_link": "/signup/" + (f"?{urlencode(query)}" if query else "")}
    if wanted.startswith(AUTHORIZE) and "?" in wanted:
        links["cancel_link"] = wanted + "&cancel=1"
        links["cancel_app"] = app or asked_app or "the app"
    return links


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    """The log-in form; on the way to ``/oidc/authorize/`` it may lead on to the app's
    redirect URI (admit.http.headers: form-action holds for every redirect after it)."""
    response = _login_page(request)
    return allow_form_targets(response, [return_address(_wanted_path(request))])


def _login_page(request: HttpRequest) -> HttpResponse:
    app = _app(request, list(settings.ADMIT_POLICY.apps.login_allowed))
    wanted = _wanted_path(request)
    next_page = wanted or "/account/"
    context: dict[str, Any] = {
        "values": {},
        "errors": {},
        "next": wanted,
        "ask_totp": False,
        "ask_new_password": False,
        **_login_links(request, app, wanted),
    }
    if app is None:
        context["errors"] = {FORM: [sentence(Code.APP_INVALID)]}
        return render(request, "sso/login.html", context, status=404)
    if request.method != "POST":
        return render(request, "sso/login.html", context)
    form = LoginForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {}
    context["values"] = {"username": data.get("username", "")}
    context["ask_totp"] = bool(data.get("totp_code")) or "totp_step" in request.POST
    context["ask_new_password"] = "new_password_step" in request.POST
    if not data:
        context["errors"] = {FORM: [sentence(Code.NOT_ALLOWED, "login")]}
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
        context["ask_totp"] |= Code.TOTP_CODE_MISSING in shown
        context["ask_new_password"] |= Code.PASSWORD_MUST_CHANGE in shown
        # At the new-password step, the password rules speak of the new one.
        renamed = {"E003": "new_password"} if context["ask_new_password"] else {}
        renamed.update({Code.TOTP_CODE_MISSING: "totp_code", Code.PASSWORD_MUST_CHANGE: FORM})
        # At the code step a refusal names neither the password nor the code (as the API).
        context["errors"] = problems(
            error, "login-totp" if context["ask_totp"] else "login", renamed
        )
        return render(request, "sso/login.html", context, status=page_status(error))
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
        context = {"values": {"credential": credential}, "errors": problems(error, "reset")}
        return render(request, "sso/reset_ask.html", context, status=page_status(error))
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
    renamed = {"E003": "new_password", "E005": "token", "E010": "token"}
    try:
        # Judged before the token is spent, so a refused password costs no new e-mail.
        check_new_password(data["new_password"])
        reset_key = flows.open_reset(data["token"].strip(), caller)
        flows.finish_reset(data["token"].strip(), reset_key, data["new_password"], caller)
    except AdmitError as error:
        context["errors"] = problems(error, "reset", renamed)
        return render(request, "sso/reset_set.html", context, status=page_status(error))
    return render(request, "sso/reset_done.html")
