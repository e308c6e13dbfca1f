from __future__ import annotations

from django.http import HttpRequest

from admit.http.requests import cid_of


def ok(request: HttpRequest, **fields: object) -> dict[str, object]:
    return {"status": "ok", "cid": cid_of(request), **fields}
