"""What the HTTP adapters pass to flows about a request."""

from __future__ import annotations

from django.http import HttpRequest

from admit.core.context import Caller


def cid_of(request: HttpRequest) -> str:
    """The request's correlation id (``admit.http.middleware.RequestContextMiddleware``)."""
    return request.cid  # type: ignore[attr-defined]


def caller_of(request: HttpRequest, user_agent: str = "") -> Caller:
    return Caller(
        cid=cid_of(request),
        remote_ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=_printable(user_agent or request.META.get("HTTP_USER_AGENT", "")),
    )


def _printable(text: str) -> str:
    """A header as admit keeps it: without the control characters PostgreSQL cannot store."""
    return text if text.isprintable() else "".join(c for c in text if c.isprintable())
