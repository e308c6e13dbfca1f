"""The pages of the remote log-in flow and the portal."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from admit.audit.models import AuditEvent
from admit.confirmations import engine as confirmations
from admit.core import names
from admit.core.errors import AdmitError
from admit.core.ratelimit import RateLimited
from admit.http.requests import caller_of
from admit.remote import portal, tokens
from admit.remote.flows.confirm_email import confirm_email, send_confirmation
from admit.remote.flows.confirm_login import (
    RegistrationDeactivated,
    TokenReplayed,
    confirm_login,
    needs_tos,
    open_link,
)
from admit.remote.flows.registry import ServerUnauthorized
from admit.remote.flows.server_login import deactivate_server, server_login
from admit.remote.models import RemoteRealm, RemoteRealmUser, RemoteServer, RemoteServerUser


def remote_page(
    request: HttpRequest, template: str, context: dict | None = None, status: int = 200
) -> HttpResponse:
    """A page of the remote log-in flow: its templates are Jinja2's (remote/jinja2/)."""
    return render(request, template, context, status=status, using="jinja2")


def _rate_limited(request: HttpRequest, error: RateLimited) -> HttpResponse:
    response = remote_page(
        request, "remote/rate_limited.html", {"seconds": error.retry_after}, status=429
    )
    response["Retry-After"] = str(error.retry_after)
    return response


@require_http_methods(["GET", "POST"])
def remote_login(request: HttpRequest, token: str) -> HttpResponse:
    """A signed log-in link opened: the confirm-login page (and its POST) for a known user,
    the e-mail form that starts the e-mail confirmation otherwise."""
    try:
        identity = tokens.read(token)
        account = open_link(identity)
    except tokens.TokenExpired:
        return remote_page(request, "remote/link_expired.html", status=410)
    except tokens.TokenInvalid:
        return remote_page(request, "remote/link_invalid.html", status=400)
    except TokenReplayed:
        return remote_page(request, "remote/link_used.html", status=410)
    except RegistrationDeactivated:
        return remote_page(request, "remote/deactivated.html", status=403)
    if account is None:
        return _first_time(request, identity)
    return _confirm_login(request, identity, account)


def _first_time(request: HttpRequest, identity: tokens.Identity) -> HttpResponse:
    email = request.POST.get("email", identity.email)
    context = {"email": email, "server_level": identity.realm_uuid is None}
    if request.method == "GET":
        return remote_page(request, "remote/email_form.html", context)
    try:
        send_confirmation(identity, email, caller_of(request))
    except RateLimited as error:
        return _rate_limited(request, error)
    except AdmitError as error:
        return remote_page(
            request, "remote/email_form.html", {**context, "error": error.message}, status=400
        )
    return remote_page(request, "remote/check_email.html", {"email": email})


def _confirm_login(
    request: HttpRequest, identity: tokens.Identity, account: RemoteRealmUser | RemoteServerUser
) -> HttpResponse:
    full_name = request.POST.get("full_name", account.full_name)
    context = {
        "email": account.email,
        "full_name": full_name,
        "needs_tos": needs_tos(account),
        "tos_version": settings.ADMIT_POLICY.remote.tos_version,
        "tos_url": settings.ADMIT_POLICY.remote.tos_url,
    }
    if request.method == "GET":
        return remote_page(request, "remote/confirm_login.html", context)
    for name, values in request.POST.lists():
        if found := next(filter(None, map(names.control_character, values)), None):
            problem = f"The field {name} holds a control character ({found}): type it again."
            return remote_page(
                request, "remote/confirm_login.html", {**context, "error": problem}, status=400
            )
    tos_accepted = request.POST.get("tos_consent") == "on"
    try:
        confirm_login(identity, full_name, tos_accepted, caller_of(request))
    except TokenReplayed:
        return remote_page(request, "remote/link_used.html", status=410)
    except RegistrationDeactivated:
        return remote_page(request, "remote/deactivated.html", status=403)
    except AdmitError as error:
        return remote_page(
            request, "remote/confirm_login.html", {**context, "error": error.message}, status=400
        )
    account.refresh_from_db()
    portal.start(request, identity, account.email, account.full_name)
    return HttpResponseRedirect(portal.next_path(identity.next_page))


@require_http_methods(["GET", "POST"])
def confirm_remote_email(request: HttpRequest, key: str) -> HttpResponse:
    """The e-mailed link: a button; its POST creates the user and goes on to confirm-login."""
    try:
        if request.method == "GET":
            confirmations.lookup(key, kinds=("remote_email",))
            return remote_page(request, "remote/confirm_email.html")
        identity = confirm_email(key, caller_of(request))
    except confirmations.MalformedKey:
        return render(request, "confirmations/malformed.html", status=400)
    except confirmations.KeyExpiredOrUsed as error:
        return render(request, "confirmations/expired.html", {"used": error.was_used}, status=410)
    except confirmations.KeyNotFound:
        return render(request, "confirmations/not_found.html", status=404)
    return HttpResponseRedirect(tokens.url(identity))


@require_http_methods(["GET", "POST"])
def server_login_page(request: HttpRequest) -> HttpResponse:
    next_page = request.GET.get("next_page") or request.POST.get("next_page") or None
    context = {"server_uuid": request.POST.get("server_uuid", ""), "next_page": next_page or ""}
    if request.method == "GET":
        return remote_page(request, "remote/server_login.html", context)
    try:
        link = server_login(
            request.POST.get("server_uuid", ""),
            request.POST.get("server_key", ""),
            next_page,
            caller_of(request),
        )
    except ServerUnauthorized:
        error = "These server credentials are not valid, or the server is deactivated."
        return remote_page(
            request, "remote/server_login.html", {**context, "error": error}, status=401
        )
    except AdmitError as error:
        return remote_page(
            request, "remote/server_login.html", {**context, "error": error.message}, status=400
        )
    return HttpResponseRedirect(link)


def _entry_point(identity: dict) -> str:
    """Where a person whose portal session expired gets a fresh link: their own server."""
    query = urlencode({"next_page": identity.get("next_page") or "overview"})
    if identity.get("remote_realm_uuid"):
        realm = RemoteRealm.objects.filter(uuid=identity["remote_realm_uuid"]).first()
        if realm is not None:
            scheme = identity.get("uri_scheme") or "https://"
            return f"{scheme}{realm.host}{settings.ADMIT_POLICY.remote.entry_point_path}?{query}"
    return f"/serverlogin/?{query}"


def portal_page(page: str):
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest) -> HttpResponse:
        current = portal.state(request)
        if current.identity is None:
            return remote_page(request, "remote/not_authenticated.html", status=401)
        if current.expired:
            portal.end(request)
            return HttpResponseRedirect(_entry_point(current.identity))
        request.portal_header = portal.header(current.identity)  # type: ignore[attr-defined]
        return PORTAL_PAGES[page](request, current.identity)

    view.__name__ = f"portal_{page}"
    return view


def _overview(request: HttpRequest, identity: dict) -> HttpResponse:
    """The realm's (or server's) people and recent events."""
    server = RemoteServer.objects.get(uuid=identity["remote_server_uuid"])
    realm = (
        RemoteRealm.objects.filter(uuid=identity["remote_realm_uuid"]).first()
        if identity["remote_realm_uuid"]
        else None
    )
    users = realm.users.order_by("email") if realm else server.users.order_by("email")
    events = AuditEvent.objects.filter(remote_server_uuid=server.uuid)
    if realm is not None:
        events = events.filter(remote_realm_uuid=realm.uuid)
    asked_for = identity.get("next_page")
    context = {
        "identity": identity,
        "server": server,
        "realm": realm,
        "users": users,
        "events": events[:20],
        # A Zulip server's billing, plans, upgrade or sponsorship page, left on the overview.
        "asked_for": asked_for if asked_for in ZULIP_BILLING_PAGES else None,
    }
    return remote_page(request, "remote/portal_overview.html", context)


ZULIP_BILLING_PAGES = frozenset({"billing", "plans", "upgrade", "sponsorship"})


def _account(request: HttpRequest, identity: dict) -> HttpResponse:
    return remote_page(request, "remote/portal_account.html", {"identity": identity})


def _deactivate(request: HttpRequest, identity: dict) -> HttpResponse:
    server = RemoteServer.objects.get(uuid=identity["remote_server_uuid"])
    context = {
        "identity": identity,
        "server": server,
        "server_level": identity["remote_realm_uuid"] is None,
    }
    if request.method == "POST" and context["server_level"] and not server.deactivated:
        deactivate_server(str(server.uuid), identity["user"]["email"], caller_of(request))
        server.refresh_from_db()
        context["done"] = True
    return remote_page(request, "remote/portal_deactivate.html", context)


PORTAL_PAGES = {"overview": _overview, "account": _account, "deactivate": _deactivate}


@require_POST
def portal_logout(request: HttpRequest) -> HttpResponse:
    """Ends the portal session (the header's "Log out"); the person's server hands out a new
    log-in link when they come back."""
    portal.end(request)
    return remote_page(request, "remote/logged_out.html")
