"""What the HTTP adapters pass to flows about a request."""

from __future__ import annotations

from django.http import HttpRequest

from admit.core.context import Caller


def caller_of(request: HttpRequest, user_agent: str = "") -> Caller:
    return Caller(
        cid=request.cid,  # type: ignore[attr-defined]
        remote_ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=user_agent or request.META.get("HTTP_USER_AGENT", ""),
    )
