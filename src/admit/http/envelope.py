"""The one error shape of the JSON API: ``{"status": "error", "sub_status": [...], "cid": ...}``."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import JsonResponse

API_PREFIXES = ("/zato/sso/", "/api/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def error_response(
    cid: str, codes: Sequence[str], status: int, details: list[dict[str, str]] | None = None
) -> JsonResponse:
    body: dict[str, object] = {"status": "error", "sub_status": list(codes), "cid": cid}
    if details:
        body["details"] = details
    return JsonResponse(body, status=status)
