"""The Content-Security-Policy header (django-csp; the policy is ``CONTENT_SECURITY_POLICY`` in
settings), with the one exception the pages need.

admit's own pages and the admin run no inline script or style and load nothing from another
origin. django-ninja's Swagger UI at ``/api/docs`` is served from ninja's own static files too
(no CDN: ``ninja`` is an installed app), but its stylesheet draws its icons as ``data:`` SVG
images, so that page alone also allows ``img-src data:``.

The cookie-less JSON API (``/zato/sso/``, the remote servers' calls) gets no policy: its
answers are JSON with ``nosniff`` and ``X-Frame-Options: DENY``, never a document a browser
runs, and django-csp builds the header afresh for every response, a cost the relying
applications' session checks would pay on every call (docs/benchmarks.md).
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

from admit.http.middleware import pages_only

API_DOCS = ("api", "openapi-view")  # django-ninja's name for the docs page, in admit's namespace
API_DOCS_POLICY = {"img-src": ["data:"]}


class AdmitCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = request.resolver_match
        if match is not None and (match.namespace, match.url_name) == API_DOCS:
            parts.update = {**API_DOCS_POLICY, **(parts.update or {})}
        return parts


ContentSecurityPolicyMiddleware = pages_only(AdmitCSPMiddleware)
