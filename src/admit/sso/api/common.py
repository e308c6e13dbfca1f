from __future__ import annotations

from django.http import HttpRequest

from admit.core.context import Caller
from admit.sso.schemas import ErrorOut

ERRORS = {400: ErrorOut, 403: ErrorOut, 429: ErrorOut}


def caller(request: HttpRequest, user_agent: str = "") -> Caller:
    return Caller(
        cid=request.cid,  # type: ignore[attr-defined]
        remote_ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=user_agent or request.META.get("HTTP_USER_AGENT", ""),
    )


def ok(request: HttpRequest, **fields: object) -> dict[str, object]:
    return {"status": "ok", "cid": request.cid, **fields}  # type: ignore[attr-defined]


def utc(moment) -> str | None:
    """UTC, ISO 8601 without an offset, as the seed writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None
