"""Zulip's answer shapes, on the routes that a Zulip server calls (its ``json_success`` and
``json_response_from_error``): ``{"result": "success", "msg": "", ...}`` and
``{"result": "error", "msg": ..., "code": ...}``. A Zulip server reads ``msg`` of every
refusal, and ``code`` to tell a few of them apart.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

# The routes that answer in Zulip's shape, including the refusals that Django or the
# middleware make before the view runs (wrong method, body too large).
ZULIP_PATHS = frozenset(
    {
        "/api/v1/remotes/server/billing",
        "/api/v1/remotes/server/register",
        "/api/v1/remotes/server/analytics",
        "/api/v1/remotes/server/analytics/status",
        "/api/v1/remotes/server/deactivate",
    }
)

# An analytics upload carries up to 10,000 rows of each of three tables (Zulip's
# MAX_CLIENT_BATCH_SIZE), form-encoded JSON: far above the 64 KiB every other route takes.
ANALYTICS_MAX_BYTES = 32 * 1024 * 1024
_BODY_LIMITS = {"/api/v1/remotes/server/analytics": ANALYTICS_MAX_BYTES}


# Zulip's calls that admit does not take (push notifications; moving a registration between
# hosts) get their 404 in Zulip's shape too, which a Zulip server reads without failing.
ZULIP_PREFIXES = ("/api/v1/remotes/push/", "/api/v1/remotes/server/register/")


def is_zulip_path(path: str) -> bool:
    return path in ZULIP_PATHS or path.startswith(ZULIP_PREFIXES)


def refusal_message(path: str, status: int, problem: str) -> str:
    """``msg`` of a refusal made before a Zulip route's view (or for a route admit lacks)."""
    if status == 404 and path.startswith("/api/v1/remotes/push/"):
        return "This service does not relay push notifications."
    if status == 404:
        return "This service does not offer this call of Zulip's protocol."
    return problem[:1].upper() + problem[1:] + "."


def body_limit(path: str) -> int:
    """The most bytes a request body on ``path`` may have."""
    return _BODY_LIMITS.get(path, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def zulip_success(**data: object) -> JsonResponse:
    return JsonResponse({"result": "success", "msg": "", **data})


def zulip_error(status: int, code: str, msg: str, **data: object) -> JsonResponse:
    response = JsonResponse({"result": "error", "msg": msg, "code": code, **data}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="zulip"'
    return response
