"""The Content-Security-Policy header (django-csp; the policy is ``CONTENT_SECURITY_POLICY`` in
settings), with the two exceptions the pages need.

admit's own pages and the admin run no inline script or style and load nothing from another
origin. django-ninja's Swagger UI at ``/api/docs`` is served from ninja's own static files too
(no CDN: ``ninja`` is an installed app), but its stylesheet draws its icons as ``data:`` SVG
images, so that page alone also allows ``img-src data:``.

``form-action 'self'`` holds for every redirect that follows a form's submission, not only for
its first address (browsers enforce it so). The OpenID Connect pages whose form ends in a
redirect back to an app -- the consent page, the log-in page on the way to ``/oidc/authorize/``,
the log-out confirmation -- name that app's registered address with ``allow_form_targets``;
without it the browser stops the person on admit's page and the app never hears back.

The cookie-less JSON API (``/zato/sso/``, the remote servers' calls) gets no policy: its
answers are JSON with ``nosniff`` and ``X-Frame-Options: DENY``, never a document a browser
runs, and django-csp builds the header afresh for every response, a cost the relying
applications' session checks would pay on every call (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

from admit.http.middleware import pages_only

API_DOCS = ("api", "openapi-view")  # django-ninja's name for the docs page, in admit's namespace
API_DOCS_POLICY = {"img-src": ["data:"]}
Response = TypeVar("Response", bound=HttpResponseBase)
FORM_TARGETS = "admit_form_targets"  # the response attribute allow_form_targets sets


def _origin(uri: str) -> str:
    """``scheme://host[:port]`` of an absolute http(s) address, the only part of it a CSP source
    needs (browsers ignore the path after a redirect); nothing of the address's path or query
    reaches the header."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"not an absolute http(s) address: {uri!r}")
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def allow_form_targets(response: Response, uris: Iterable[str]) -> Response:
    """The forms of this page may end, through redirects, at these addresses: the registered
    redirect URIs of the app the page sends the person back to (never an address a request
    merely named: the caller checked it is registered)."""
    origins = list(dict.fromkeys(_origin(uri) for uri in uris if uri))
    if origins:
        setattr(response, FORM_TARGETS, origins)
    return response


class AdmitCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = request.resolver_match
        if match is not None and (match.namespace, match.url_name) == API_DOCS:
            parts.update = {**API_DOCS_POLICY, **(parts.update or {})}
        targets = getattr(response, FORM_TARGETS, None)
        if targets and not report_only:
            parts.update = {**(parts.update or {}), "form-action": list(targets)}
        return parts


ContentSecurityPolicyMiddleware = pages_only(AdmitCSPMiddleware)
