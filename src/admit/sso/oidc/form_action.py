"""The Content-Security-Policy ``form-action`` of the pages whose form ends in a redirect to a
client: browsers check every redirect after a form is sent against the sending page's
``form-action``, and admit's is ``'self'`` (admit.settings), so without this Chromium stops the
consent form's answer, a log-in that goes on to an app, and a confirmed log-out, on their way
back to the client ("Sending form data to ... violates ... form-action 'self'").

Only the origin of an address registered for the client is added, for the page that leads
there; every other page keeps ``'self'`` alone."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from django.http import HttpResponseBase

from admit.sso.oidc.models import Client

AUTHORIZE = "/oidc/authorize/"
Response = TypeVar("Response", bound=HttpResponseBase)


def origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def allow(response: Response, *uris: str) -> Response:
    """Let ``response``'s forms lead to ``uris`` (already checked against a client's own)."""
    origins = sorted({origin(uri) for uri in uris} - {""})
    if origins:
        response._csp_update = {"form-action": origins}  # type: ignore[attr-defined]
    return response


def authorize_redirect_uri(next_path: str) -> str:
    """The redirect URI an authorize request in ``next_path`` (a local path) will end at, when
    it names a client and one of that client's registered addresses; else ""."""
    parts = urlsplit(next_path)
    if parts.path != AUTHORIZE:
        return ""
    query = parse_qs(parts.query)
    client_id = query.get("client_id", [""])[0]
    redirect_uri = query.get("redirect_uri", [""])[0]
    client = Client.objects.filter(client_id=client_id).first() if client_id else None
    if client is None:
        return ""
    if redirect_uri:
        return redirect_uri if client.redirect_uri_allowed(redirect_uri) else ""
    # Without redirect_uri, the client's only registered one is used (RFC 6749 §3.1.2.3).
    registered = client.redirect_uris.split()
    return registered[0] if len(registered) == 1 else ""
