"""The console's pages: each parses a form, calls a flow, and renders its result or its
error in plain words. Changes are POSTs (CSRF-checked) that redirect back (post/redirect/get);
the flows audit them."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from admit.audit.models import AuditEvent
from admit.console import flows as console
from admit.console.auth import forbidden, visitor
from admit.console.chart import funnel_chart
from admit.console.forms import (
    EVENT_WORDS,
    AuditFilterForm,
    NewClientForm,
    NewUserForm,
    QueueAction,
    QueueFilter,
    UserSearch,
    plain,
    words_for,
)
from admit.core.errors import AdmitError
from admit.http.requests import caller_of
from admit.sso import flows
from admit.sso.oidc.clients import discovery_url
from admit.sso.oidc.models import Client

View = Callable[..., HttpResponseBase]


def superuser_only(view: View) -> View:
    """Lets in a web session that holds a live super-user's ``ust``: anyone else is sent to
    log in, and a logged-in person who is not a super-user gets a 403 page."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        found = visitor(request)  # the Django admin lets in the same people (console.auth)
        if found.forbidden:
            return forbidden(request)
        if found.admin is None:
            return _to_login(request)
        request.console_ust = found.ust  # type: ignore[attr-defined]
        request.console_admin = found.admin  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return guarded


def _to_login(request: HttpRequest) -> HttpResponse:
    return redirect("/login/?" + urlencode({"next": request.get_full_path()}))


def _ust(request: HttpRequest) -> str:
    return request.console_ust  # type: ignore[attr-defined,no-any-return]


def _back_to(request: HttpRequest, default: str) -> str:
    """The page the form was on (its path and query), never off this site."""
    back = request.POST.get("back", "")
    if back.startswith("/console/") and "//" not in back and "\\" not in back:
        return back
    return default


def _back(request: HttpRequest, default: str) -> HttpResponse:
    return redirect(_back_to(request, default))


# ---- dashboard ------------------------------------------------------------------------------


@superuser_only
def dashboard(request: HttpRequest) -> HttpResponse:
    by: Literal["day", "week"] = "week" if request.GET.get("by") == "week" else "day"
    funnel = console.funnel(_ust(request), days=30, by=by)
    return render(
        request,
        "console/dashboard.html",
        {
            "section": "dashboard",
            "counts": console.counts(_ust(request)),
            "funnel": funnel,
            "chart": funnel_chart(funnel),
            "steps": console.FUNNEL_STEPS,
            "by": by,
        },
    )


# ---- the approval queue ---------------------------------------------------------------------


@superuser_only
@require_http_methods(["GET", "POST"])
def queue(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _queue_action(request)
    form = QueueFilter(request.GET)
    where = form.cleaned_data if form.is_valid() else {}
    found = console.queue(
        _ust(request), where.get("status") or None, where.get("app") or "", where.get("page") or 1
    )
    query = {k: v for k, v in (("status", where.get("status")), ("app", where.get("app"))) if v}
    return render(
        request,
        "console/queue.html",
        {
            "section": "queue",
            "form": form,
            "queue": found,
            "query": urlencode(query),
            "back": request.get_full_path(),
        },
    )


def _queue_action(request: HttpRequest) -> HttpResponse:
    form = QueueAction(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return _back(request, "/console/queue/")
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"].strip()
    user_ids = form.user_ids()
    if not user_ids:
        messages.error(request, "Tick at least one sign-up first.")
        return _back(request, "/console/queue/")
    ust, caller = _ust(request), caller_of(request)
    if action == "reject" and not (form.cleaned_data["confirmed"] and reason):
        return _confirm_reject(request, ust, user_ids, reason, asked=form.cleaned_data["confirmed"])
    done = []
    for user_id in user_ids:
        name = _name_of(ust, user_id)
        try:
            if action == "approve":
                flows.approve(user_id, ust, caller)
            else:
                flows.reject(user_id, reason, ust, caller)
        except AdmitError as error:
            messages.error(request, f"Could not {action} {name}: {plain(error)}")
        else:
            done.append(name)
    if done:
        verb = "Approved" if action == "approve" else "Rejected"
        tail = " They get an e-mail." if len(done) == 1 else " Each gets an e-mail."
        messages.success(request, f"{verb} {', '.join(done)}.{tail}")
    return _back(request, "/console/queue/")


def _confirm_reject(
    request: HttpRequest, ust: str, user_ids: list[str], reason: str, asked: bool
) -> HttpResponse:
    """The page between "Reject" and the deletion: who, the reason to send, a second press.
    Sign-ups that are gone or already approved are left out, and said so."""
    people, gone = [], 0
    for user_id in user_ids:
        try:
            person = flows.get_user(ust, user_id)
        except AdmitError:
            gone += 1
            continue
        if person.is_approved:
            gone += 1
        else:
            people.append(person)
    context = {
        "section": "queue",
        "people": people,
        "gone": gone,
        "reason": reason,
        "reason_missing": asked and not reason,
        "back": _back_to(request, "/console/queue/"),
    }
    return render(request, "console/reject.html", context, status=400 if asked else 200)


def _name_of(ust: str, user_id: str) -> str:
    try:
        return flows.get_user(ust, user_id).username
    except AdmitError:
        return user_id


# ---- users ----------------------------------------------------------------------------------


@superuser_only
def users(request: HttpRequest) -> HttpResponse:
    form = UserSearch(request.GET)
    where = form.cleaned_data if form.is_valid() else {}
    page = flows.console_search(
        _ust(request),
        where.get("field") or "username",
        where.get("q") or "",
        where.get("approval") or "",
        where.get("page") or 1,
    )
    query = {k: where.get(k) for k in ("q", "field", "approval") if where.get(k)}
    return render(
        request,
        "console/users.html",
        {"section": "users", "form": form, "page": page, "query": urlencode(query)},
    )


@superuser_only
@require_http_methods(["GET", "POST"])
def user_new(request: HttpRequest) -> HttpResponse:
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        new = flows.NewUser(
            username=data["username"],
            email=data["email"],
            password=data["password"],
            display_name=data["display_name"],
            is_superuser=data["is_superuser"],
            auto_approve=data["auto_approve"],
            password_must_change=data["password_must_change"],
        )
        try:
            user = flows.create_user(_ust(request), new, caller_of(request))
        except AdmitError as error:
            form.add_flow_error(error)
        else:
            messages.success(request, f"Created {user.username}.")
            return redirect("console:user", user_id=user.user_id)
    return render(request, "console/user_new.html", {"section": "users", "form": form})


def _missing(request: HttpRequest, section: str, what: str, error: AdmitError) -> HttpResponse:
    context = {"section": section, "what": what, "error": plain(error)}
    return render(request, "console/missing.html", context, status=404)


@superuser_only
def user(request: HttpRequest, user_id: str) -> HttpResponse:
    ust = _ust(request)
    try:
        person = flows.get_user(ust, user_id)
        sessions = flows.list_sessions(ust, user_id)
    except AdmitError as error:
        return _missing(request, "users", "user", error)
    return render(
        request,
        "console/user.html",
        {
            "section": "users",
            "person": person,
            "sessions": sessions,
            "apps": console.apps_with_access(ust, person),
            "is_self": person.pk == request.console_admin.pk,  # type: ignore[attr-defined]
        },
    )


@superuser_only
@require_POST
def user_lock(request: HttpRequest, user_id: str) -> HttpResponse:
    locked = request.POST.get("locked") == "1"
    try:
        flows.set_lock(_ust(request), user_id, locked, caller_of(request))
    except AdmitError as error:
        messages.error(request, plain(error))
    else:
        messages.success(
            request, "Locked; every session of the user ended." if locked else "Unlocked."
        )
    return redirect("console:user", user_id=user_id)


@superuser_only
@require_POST
def user_sessions_end(request: HttpRequest, user_id: str) -> HttpResponse:
    raw = request.POST.get("session", "")
    session_id = int(raw) if raw.isdigit() else None
    if raw and session_id is None:
        messages.error(request, "No such session.")
        return redirect("console:user", user_id=user_id)
    try:
        ended = console.end_user_sessions(
            _ust(request), user_id, caller_of(request), session_id=session_id
        )
    except AdmitError as error:
        messages.error(request, plain(error))
    else:
        messages.success(request, f"Ended {ended} session{'s' if ended != 1 else ''}.")
    return redirect("console:user", user_id=user_id)


# ---- OpenID Connect clients ----------------------------------------------------------------


@superuser_only
def apps(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/apps.html",
        {
            "section": "apps",
            "clients": console.oidc_clients(_ust(request)),
            "discovery": discovery_url(),
        },
    )


@dataclass(frozen=True)
class ClientFact:
    """One line of ``admit apps show`` as the client's page shows it: ``codes`` in code type,
    one a line (ids, addresses, the algorithm), ``when`` as a time, then ``words``."""

    key: str
    label: str
    words: str = ""
    codes: tuple[str, ...] = ()
    when: str = ""  # ISO 8601, UTC

    @property
    def when_shown(self) -> str:
        return self.when[:19].replace("T", " ")


# Words for the facts of ``admit apps show`` (``admit.sso.oidc.clients.describe``), which the page
# shows in its order: a fact it gains appears under its own name until it has words here.
CLIENT_LABELS = {
    "app": "App",
    "client_id": "Client id",
    "type": "Type",
    "consent": "Consent",
    "redirect_uris": "Redirect URIs",
    "post_logout_redirect_uris": "Post-logout redirect URIs",
    "algorithm": "ID token signing",
    "refresh_id_token": "ID token on refresh",
    "created": "Created (UTC)",
    "updated": "Updated (UTC)",
    "consents": "Consents",
}
CLIENT_WORDS: dict[tuple[str, object], str] = {
    ("type", "public"): "public: it has no secret and must use PKCE (S256)",
    ("type", "confidential"): "confidential: it logs in with a secret, of which admit keeps"
    " only a digest (rotate it for a new one)",
    ("consent", "asked"): "asked: each person allows the app once",
    ("consent", "skipped"): "skipped: a first-party app, nobody is asked",
    ("refresh_id_token", True): "yes: every refresh answers with a new ID token too",
    ("refresh_id_token", False): "no: a refresh answers with new access and refresh tokens;"
    " the app keeps the ID token of the log-in",
}
ALGORITHM_WORDS = dict(Client.ALGORITHM_TYPES)


def client_facts(described: dict[str, object]) -> list[ClientFact]:
    facts = []
    for key, value in described.items():
        label = CLIENT_LABELS.get(key, key)
        if key in ("created", "updated"):
            facts.append(ClientFact(key, label, when=str(value)))
        elif key == "algorithm":
            words = ALGORITHM_WORDS.get(str(value), "")
            facts.append(ClientFact(key, label, words, codes=(str(value),)))
        elif key == "consents" and isinstance(value, int):
            words = f"{value} {'person has' if value == 1 else 'people have'} allowed the app"
            facts.append(ClientFact(key, label, words))
        elif isinstance(value, list):
            facts.append(ClientFact(key, label, "" if value else "none", codes=tuple(value)))
        elif key in ("app", "client_id"):
            facts.append(ClientFact(key, label, codes=(str(value),)))
        else:
            words = CLIENT_WORDS.get((key, value), str(value))
            facts.append(ClientFact(key, label, words))
    return facts


def _missing_client(request: HttpRequest, error: AdmitError) -> HttpResponse:
    context = {
        "section": "apps",
        "what": "client",
        "error": f"No client has this id; it may have been removed. ({', '.join(error.codes)})",
    }
    return render(request, "console/missing.html", context, status=404)


@superuser_only
@require_safe
def app(request: HttpRequest, client_id: str) -> HttpResponse:
    try:
        client, described = console.oidc_client_shown(_ust(request), client_id)
    except AdmitError as error:
        return _missing_client(request, error)
    return render(
        request,
        "console/app.html",
        {
            "section": "apps",
            "client": client,
            "facts": client_facts(described),
            "discovery": discovery_url(),
            "audit_query": urlencode({"app": client.app}),
            "page": reverse("console:app", args=[client.client_id]),
        },
    )


def _secret_page(request: HttpRequest, new: Any, verb: str) -> HttpResponse:
    """The one time a client secret is shown: never cached, never shown again."""
    response = render(
        request,
        "console/app_secret.html",
        {"section": "apps", "new": new, "verb": verb, "discovery": discovery_url()},
    )
    add_never_cache_headers(response)
    return response


@superuser_only
@require_http_methods(["GET", "POST"])
def app_new(request: HttpRequest) -> HttpResponse:
    form = NewClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new = console.add_oidc_client(
                _ust(request),
                data["app"],
                data["redirect_uris"],
                caller_of(request),
                post_logout_redirect_uris=tuple(data["post_logout_redirect_uris"]),
                public=data["public"],
                skip_consent=data["skip_consent"],
                algorithm=data["algorithm"],
                refresh_id_token=data["refresh_id_token"],
            )
        except AdmitError as error:
            form.add_flow_error(error)
        else:
            return _secret_page(request, new, "Added")
    status = 400 if request.method == "POST" else 200
    return render(request, "console/app_new.html", {"section": "apps", "form": form}, status=status)


def _app_change(request: HttpRequest, client_id: str, action: str) -> HttpResponse:
    """Rotating a secret and removing a client: the first press asks (what it does, to
    which client), the second (``confirmed``) does it."""
    ust = _ust(request)
    try:
        client = console.oidc_client(ust, client_id)
    except AdmitError as error:
        return _missing_client(request, error)
    if request.POST.get("confirmed") != "yes":
        # Asked from the client's page, "Cancel" goes back there; else to the list.
        page = reverse("console:app", args=[client.client_id])
        from_page = request.POST.get("back") == page
        context = {
            "section": "apps",
            "client": client,
            "action": action,
            "back": page if from_page else reverse("console:apps"),
            "back_label": f"The {client.app} client" if from_page else "Apps",
        }
        return render(request, "console/app_confirm.html", context)
    try:
        if action == "rotate":
            return _secret_page(
                request, console.rotate_oidc_secret(ust, client_id, caller_of(request)), "Rotated"
            )
        console.remove_oidc_client(ust, client_id, caller_of(request))
    except AdmitError as error:
        messages.error(request, plain(error))
    else:
        messages.success(request, f"Removed the {client.app} client {client.client_id}.")
    return redirect("console:apps")


@superuser_only
@require_POST
def app_rotate(request: HttpRequest, client_id: str) -> HttpResponse:
    return _app_change(request, client_id, "rotate")


@superuser_only
@require_POST
def app_remove(request: HttpRequest, client_id: str) -> HttpResponse:
    return _app_change(request, client_id, "remove")


# ---- remote servers -------------------------------------------------------------------------


@superuser_only
def remote(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "console/remote.html",
        {"section": "remote", "servers": console.remote_servers(_ust(request))},
    )


@superuser_only
def remote_server(request: HttpRequest, uuid: UUID) -> HttpResponse:
    try:
        server, events = console.remote_server(_ust(request), uuid)
    except AdmitError as error:
        return _missing(request, "remote", "remote server", error)
    return render(
        request,
        "console/remote_server.html",
        {"section": "remote", "server": server, "events": _audit_rows(_ust(request), events)},
    )


@dataclass(frozen=True)
class AuditRow:
    """One audit event as the console shows it: users by name (the id in the CSV and on
    hover), each error code with its words."""

    event: AuditEvent
    actor: str
    target: str
    errors: list[tuple[str, str]]
    words: str  # what the event means, when the console has words for it


def _audit_rows(ust: str, events: Iterable[AuditEvent]) -> list[AuditRow]:
    events = list(events)
    ids = {e.actor_user_id for e in events} | {e.target_user_id for e in events}
    names = console.usernames(ust, ids)
    return [
        AuditRow(
            event=e,
            actor=names.get(e.actor_user_id, ""),
            target=names.get(e.target_user_id, ""),
            errors=[(code, words_for(code)) for code in e.error_codes.split(",") if code],
            words=EVENT_WORDS.get(e.event, ""),
        )
        for e in events
    ]


# ---- the audit log --------------------------------------------------------------------------

CSV_COLUMNS = (
    "created_at",
    "event",
    "outcome",
    "error_codes",
    "actor_user_id",
    "target_user_id",
    "remote_ip",
    "app",
    "cid",
    "remote_server_uuid",
    "remote_realm_uuid",
    "extra_data",
)


@superuser_only
def audit(request: HttpRequest) -> HttpResponseBase:
    ust = _ust(request)
    form = AuditFilterForm(request.GET, events=console.audit_event_names(ust))
    if request.GET and not form.is_valid():
        return render(
            request,
            "console/audit.html",
            {"section": "audit", "form": form, "page": None, "query": ""},
            status=400,
        )
    data = form.cleaned_data if form.is_valid() else {}
    where = console.AuditFilter(
        user_id=data.get("user_id") or "",
        app=data.get("app") or "",
        event=data.get("event") or "",
        outcome=data.get("outcome") or "",
        since=data.get("since"),
        until=data.get("until"),
    )
    events = console.audit_events(ust, where)
    if request.GET.get("format") == "csv":
        return _csv(events)
    keep = ("user_id", "app", "event", "outcome", "since", "until")
    query = urlencode({k: request.GET[k] for k in keep if request.GET.get(k)})
    page = Paginator(events, 50).get_page(data.get("page") or 1)
    rows = _audit_rows(ust, page.object_list)
    return render(
        request,
        "console/audit.html",
        {"section": "audit", "form": form, "page": page, "rows": rows, "query": query},
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if isinstance(value, dict):
        text = json.dumps(value, sort_keys=True)
    # A spreadsheet would run a cell that starts like a formula: make it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(events: Any) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(CSV_COLUMNS)
        for event in events.iterator(chunk_size=500):
            values = [getattr(event, column) for column in CSV_COLUMNS]
            values[0] = event.created_at.isoformat()
            yield writer.writerow([_cell(value) for value in values])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="admit-audit.csv"'
    return response
