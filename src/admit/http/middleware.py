"""Per-request context: a correlation id, one log line, and the error envelope at the edges.

The log line carries the method, the route without its query string (a ``ust`` may travel
there) and without secrets in the path, the status and the time taken; never a body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware

from admit.core.errors import Code
from admit.core.secrets import new_cid
from admit.http.envelope import error_response, is_api_path
from admit.http.zulip import body_limit, is_zulip_path, refusal_message, zulip_error

log = logging.getLogger("admit.request")

# What the envelope that replaces Django's own refusal keeps of it: the methods allowed, and
# the headers that the security middleware inside this one set.
_KEPT_HEADERS = (
    "Allow",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "X-Frame-Options",
    "Strict-Transport-Security",
    "Content-Security-Policy",
)

# The OpenID Connect endpoints that programs call (admit.sso.oidc): no cookies, and refusals
# in OAuth's shape, {"error": ..., "error_description": ...}.
OIDC_MACHINE_PREFIXES = (
    "/oidc/token/",
    "/oidc/revoke/",
    "/oidc/introspect/",
    "/oidc/userinfo/",
    "/oidc/jwks/",
    "/.well-known/",
)
OIDC_BODY_LIMIT = 64 * 1024

COOKIELESS_API_PREFIXES = ("/zato/sso/", "/api/v1/remotes/server/", *OIDC_MACHINE_PREFIXES)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request.cid = new_cid()  # type: ignore[attr-defined]
        response = self._respond(request)
        response["X-Correlation-ID"] = request.cid  # type: ignore[attr-defined]
        log.info(
            "cid=%s %s %s %s %.1fms",
            request.cid,  # type: ignore[attr-defined]
            request.method,
            _loggable_path(request),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _respond(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(OIDC_MACHINE_PREFIXES):
            return _oidc_respond(request, self.get_response)
        api = is_api_path(request.path)
        cid: str = request.cid  # type: ignore[attr-defined]
        limit = body_limit(request.path)
        if api and _declared_length(request) > limit:
            problem = f"larger than {limit} bytes"
            if is_zulip_path(request.path):
                return zulip_error(413, "BAD_REQUEST", f"The request body is {problem}.")
            return error_response(
                cid, [Code.INPUT_INVALID], 413, [{"field": "body", "problem": problem}]
            )
        response = self.get_response(request)
        if api and response.status_code >= 400 and not _is_json(response):
            # Refused by Django itself (unknown path, method, bad Host header, ...): same shape.
            problem = _PROBLEMS.get(response.status_code, "request refused")
            if response.status_code == 405:
                problem = f"method {request.method} not allowed"
            if is_zulip_path(request.path):
                msg = refusal_message(request.path, response.status_code, problem)
                envelope = zulip_error(response.status_code, "BAD_REQUEST", msg)
            else:
                envelope = error_response(
                    cid,
                    [Code.INPUT_INVALID],
                    response.status_code,
                    [{"field": "request", "problem": problem}],
                )
            for header in _KEPT_HEADERS:
                if header in response:
                    envelope[header] = response[header]
            return envelope
        return response


def _oidc_respond(
    request: HttpRequest, get_response: Callable[[HttpRequest], HttpResponse]
) -> HttpResponse:
    """An OIDC endpoint's answer; what Django refuses before the view, in OAuth's shape."""
    if _declared_length(request) > OIDC_BODY_LIMIT:
        return _oauth_error(413, f"the request body is larger than {OIDC_BODY_LIMIT} bytes")
    response = get_response(request)
    if response.status_code >= 400 and not _is_json(response):
        problem = _PROBLEMS.get(response.status_code, "request refused")
        if response.status_code == 405:
            problem = f"method {request.method} not allowed"
        refusal = _oauth_error(response.status_code, problem)
        for header in _KEPT_HEADERS:
            if header in response:
                refusal[header] = response[header]
        return refusal
    return response


def _oauth_error(status: int, description: str) -> JsonResponse:
    response = JsonResponse(
        {"error": "invalid_request", "error_description": description}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response


_PROBLEMS = {
    400: "bad request (is the Host header one of the allowed hosts?)",
    403: "forbidden",
    404: "no such endpoint",
}


def pages_only(middleware_class: type) -> type:
    """``middleware_class`` for every path but the cookie-less API.

    The SSO API and the remote servers' calls authenticate with a ``ust`` or HTTP Basic,
    never a cookie, so sessions, CSRF, messages and the auth user do nothing there; skipped,
    they no longer cost every such call (the session verify is the relying applications' hot
    path). The portal's ``/api/v1/remotes/session`` reads the browser session and keeps them.
    """

    class PagesOnly:
        def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
            self.get_response = get_response
            self.middleware = middleware_class(get_response)

        def __call__(self, request: HttpRequest) -> HttpResponse:
            if request.path.startswith(COOKIELESS_API_PREFIXES):
                return self.get_response(request)
            return self.middleware(request)

        def process_view(self, request: HttpRequest, *view_and_arguments: object) -> object:
            process_view = getattr(self.middleware, "process_view", None)
            if process_view is None or request.path.startswith(COOKIELESS_API_PREFIXES):
                return None
            return process_view(request, *view_and_arguments)

    PagesOnly.__name__ = PagesOnly.__qualname__ = f"PagesOnly{middleware_class.__name__}"
    return PagesOnly


PagesOnlySessionMiddleware = pages_only(SessionMiddleware)
PagesOnlyCsrfViewMiddleware = pages_only(CsrfViewMiddleware)
PagesOnlyAuthenticationMiddleware = pages_only(AuthenticationMiddleware)
PagesOnlyMessageMiddleware = pages_only(MessageMiddleware)


def _loggable_path(request: HttpRequest) -> str:
    """The route's pattern where there is one (``/confirm/<str:key>/``), so keys and signed
    tokens in paths never reach the log; elsewhere, long path segments are masked."""
    match = request.resolver_match
    if match is not None and match.route:
        return "/" + match.route
    return "/".join("<masked>" if len(part) >= 24 else part for part in request.path.split("/"))


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")
