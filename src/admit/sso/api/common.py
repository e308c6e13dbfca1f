from __future__ import annotations

from django.http import HttpRequest

from admit.core.requests import cid_of
from admit.sso.schemas import ErrorOut

# 414: a query string over 4 KiB, refused on every API route (admit.core.proxy).
ERRORS = {400: ErrorOut, 403: ErrorOut, 413: ErrorOut, 414: ErrorOut, 429: ErrorOut}


def ok(request: HttpRequest, **fields: object) -> dict[str, object]:
    return {"status": "ok", "cid": cid_of(request), **fields}


def utc(moment) -> str | None:
    """UTC, ISO 8601 without an offset, as the seed writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None
