"""What a self-hosted server embeds to send its admins to admit: it registers, asks for a
signed log-in link and redirects its admin there.

    from admit.remote.client import AdmitRemote, entry_point_view

    admit = AdmitRemote("https://admit.example.com", SERVER_UUID, SERVER_KEY)
    admit.register(version="9.1", realms=[{"uuid": ..., "host": "chat.example.com"}])
    url = admit.login_link(user={...}, realm={...}, next_page="billing")

    # urls.py of the self-hosted server:
    path("self-hosted-billing/", entry_point_view(admit, identify))

It talks HTTP with the standard library only, so it adds no dependency to the server.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

JsonObject = dict[str, Any]


class AdmitRemoteError(Exception):
    def __init__(self, status: int, body: JsonObject):
        super().__init__(f"admit answered {status}: {body}")
        self.status = status
        self.body = body


class AdmitRemote:
    def __init__(self, base_url: str, server_uuid: str, server_key: str, timeout: float = 10):
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// or http://")
        self.base_url = base_url.rstrip("/")
        credentials = base64.b64encode(f"{server_uuid}:{server_key}".encode()).decode()
        self._authorization = f"Basic {credentials}"
        self.timeout = timeout

    def _post(self, path: str, body: JsonObject) -> JsonObject:
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            f"{self.base_url}/api/v1/remotes/{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": self._authorization, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        answer = _json_object(raw)
        if answer is None:  # not admit's answer: a proxy's error page, a wrong base_url
            raise AdmitRemoteError(status, {"text": raw[:2000].decode("utf-8", "replace")})
        if status >= 300:
            raise AdmitRemoteError(status, answer)
        return answer

    def register(self, version: str, realms: list[JsonObject]) -> int:
        """Tell admit this server's version and the realms it hosts."""
        return self._post("server/register", {"version": version, "realms": realms})["realms"]

    def login_link(
        self,
        user: JsonObject,
        realm: JsonObject,
        uri_scheme: str = "https://",
        next_page: str | None = None,
    ) -> str:
        """A signed log-in link for ``user`` (uuid, email, full_name) of ``realm``."""
        body = {"user": user, "realm": realm, "uri_scheme": uri_scheme, "next_page": next_page}
        return self._post("server/login-link", body)["login_url"]


def _json_object(raw: bytes) -> JsonObject | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


Identify = Callable[[Any], tuple[JsonObject, JsonObject]]


def entry_point_view(admit: AdmitRemote, identify: Identify) -> Callable[[Any], Any]:
    """A Django view for the server's ``/self-hosted-billing/`` entry point.

    ``identify(request)`` returns the logged-in admin's ``user`` and ``realm`` dicts (raise
    ``django.core.exceptions.PermissionDenied`` for anyone who is not an admin). The view asks
    admit for a link, passing on ``?next_page=``, and redirects the admin there.
    """
    from django.http import HttpResponseRedirect

    def view(request: Any) -> Any:
        user, realm = identify(request)
        scheme = "https://" if request.is_secure() else "http://"
        next_page = request.GET.get("next_page") or None
        return HttpResponseRedirect(
            admit.login_link(user, realm, uri_scheme=scheme, next_page=next_page)
        )

    return view
