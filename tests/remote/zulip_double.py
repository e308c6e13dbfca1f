"""A Zulip server's half of the bouncer protocol, written after Zulip's own code (10.x, with
the 8.x differences where they matter): ``send_to_push_bouncer`` and
``send_server_data_to_push_bouncer`` (``zerver/lib/remote_server.py``),
``self_hosting_auth_redirect``
(``zerver/views/push_notifications.py``) and ``manage.py register_server``.

It sends what Zulip sends, through ``requests`` as Zulip does: a form body (``data=`` a dict;
fields holding JSON made with ``json.dumps``, as pydantic's ``model_dump_json`` and
``Json[...]`` fields make them), HTTP Basic with ``zulip_org_id:zulip_org_key``, a
``ZulipServer/<version>`` User-Agent. It reads answers as Zulip does: a 5xx is "retry later"
without reading the body, a 4xx must be JSON with ``msg`` (and maybe ``code``), a 200 is JSON.

``transport`` sends the prepared request: over the network (a plain ``requests.Session``), or
into Django's test client (``DjangoTransport``), byte for byte the same request either way.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.auth import HTTPBasicAuth
from urllib3 import HTTPResponse


class PushNotificationBouncerRetryLaterError(Exception):
    """Zulip: a 5xx or a network error; the caller retries later."""


class PushNotificationBouncerError(Exception):
    """Zulip: INVALID_ZULIP_SERVER or an unexpected status; e-mails the server's admins."""


class MissingRemoteRealmError(Exception):
    pass


class RemoteRealmServerMismatchError(Exception):
    pass


class JsonableError(Exception):
    """Zulip: any other 4xx; its ``msg`` is shown to the person."""

    def __init__(self, msg: str):
        super().__init__(msg)
        self.msg = msg


class CommandError(Exception):
    """``manage.py register_server``'s way to fail: "Error: " and the bouncer's ``msg``."""


class DjangoTransport(BaseAdapter):
    """A ``requests`` transport that hands the prepared request to Django's test client."""

    def __init__(self, client: Any):
        super().__init__()
        self.client = client
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("content-type", "content-length")
        }
        answer = self.client.generic(
            request.method,
            url.path + (f"?{url.query}" if url.query else ""),
            body,
            content_type=request.headers.get("Content-Type", ""),
            headers=headers,
        )
        raw = HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=dict(answer.items()),
            status=answer.status_code,
            preload_content=False,
        )
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


def session_over(transport: BaseAdapter | None) -> requests.Session:
    session = requests.Session()
    if transport is not None:
        session.mount("http://", transport)
        session.mount("https://", transport)
    return session


@dataclass
class Realm:
    """A realm as ``get_realms_info_for_push_bouncer`` describes it."""

    id: int
    host: str
    name: str
    org_type: int = 10
    deactivated: bool = False
    is_system_bot_realm: bool = False
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    uuid_owner_secret: str = field(default_factory=lambda: "zuliprealm_" + uuid.uuid4().hex)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "url": f"https://{self.host}",
            "name": self.name,
            "org_type": self.org_type,
            "date_created": 1700000000.123456,
            "deactivated": self.deactivated,
            "is_system_bot_realm": self.is_system_bot_realm,
            "authentication_methods": {"Email": True, "GitHub": False},
            "uuid": self.uuid,
            "uuid_owner_secret": self.uuid_owner_secret,
        }


@dataclass
class ZulipServer:
    services_url: str  # ZULIP_SERVICES_URL (PUSH_NOTIFICATION_BOUNCER_URL before 9.0)
    org_id: str  # zulip_org_id in /etc/zulip/zulip-secrets.conf
    org_key: str  # zulip_org_key
    hostname: str
    realms: list[Realm]
    transport: BaseAdapter | None = None
    version: str = "10.1"
    api_feature_level: int = 359
    # The server's own tables: the ids Zulip sends in its uploads.
    realm_count_ids: list[int] = field(default_factory=list)
    realmauditlog_ids: list[int] = field(default_factory=list)
    push_notifications_enabled: dict[str, bool] = field(default_factory=dict)

    def send_to_push_bouncer(
        self,
        method: str,
        endpoint: str,
        post_data: dict[str, Any] | bytes,
        extra_headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        url = urljoin(self.services_url, "/api/v1/remotes/" + endpoint)
        api_auth = HTTPBasicAuth(self.org_id, self.org_key)
        headers = {"User-agent": f"ZulipServer/{self.version}"}
        headers.update(extra_headers or {})
        res = session_over(self.transport).request(
            method, url, data=post_data, auth=api_auth, verify=True, headers=headers
        )
        if res.status_code >= 500:
            raise PushNotificationBouncerRetryLaterError(f"Received {res.status_code}")
        if res.status_code >= 400:
            result_dict = json.loads(res.content)  # Zulip lets a JSON error escape here
            msg = result_dict["msg"]
            code = result_dict.get("code")
            if code == "INVALID_ZULIP_SERVER":
                raise PushNotificationBouncerError(f"Push notifications bouncer error: {msg}")
            if endpoint == "server/billing" and code == "MISSING_REMOTE_REALM":
                raise MissingRemoteRealmError
            if endpoint == "server/billing" and code == "REMOTE_REALM_SERVER_MISMATCH_ERROR":
                raise RemoteRealmServerMismatchError
            raise JsonableError(msg)
        if res.status_code != 200:
            raise PushNotificationBouncerError(f"unexpected status code {res.status_code}")
        return json.loads(res.content)

    # --- manage.py register_server ---------------------------------------------------------

    def register_server(
        self, contact_email: str, *, rotate_key: str | None = None, as_query: bool = False
    ) -> dict[str, Any]:
        """``manage.py register_server [--rotate-key]``: a POST without auth, its fields a
        form (9.x and later, ``data=``) or a query string (8.x, ``params=``)."""
        request = {
            "zulip_org_id": self.org_id,
            "zulip_org_key": self.org_key,
            "hostname": self.hostname,
            "contact_email": contact_email,
        }
        if rotate_key is not None:
            request["new_org_key"] = rotate_key
        url = self.services_url + "/api/v1/remotes/server/register"
        sent = {"params": request} if as_query else {"data": request}
        response = session_over(self.transport).post(url, **sent)
        try:
            response.raise_for_status()
        except requests.HTTPError as e:
            try:
                content_dict = response.json()
            except Exception:
                raise e from None
            raise CommandError("Error: " + content_dict["msg"]) from e
        if rotate_key is not None and not response.json()["created"]:
            self.org_key = rotate_key  # crudini --set zulip-secrets.conf ... zulip_org_key
        return response.json()

    def deactivate_registration(self) -> dict[str, Any]:
        """``manage.py register_server --deactivate``."""
        return self.send_to_push_bouncer("POST", "server/deactivate", {})

    # --- the analytics upload: how a server reports its realms -----------------------------

    def send_server_data_to_push_bouncer(self) -> dict[str, Any]:
        status = self.send_to_push_bouncer("GET", "server/analytics/status", {})
        last_realm_count = status["last_realm_count_id"]
        last_audit = status["last_realmauditlog_id"]
        assert isinstance(status["last_installation_count_id"], int)
        realm_counts = [
            {
                "property": "active_users_audit:is_bot:day",
                "realm": self.realms[0].id,
                "id": row_id,
                "end_time": 1700000000.0,
                "subgroup": "false",
                "value": 3,
            }
            for row_id in self.realm_count_ids
            if row_id > last_realm_count
        ]
        audit_rows = [
            {
                "id": row_id,
                "realm": self.realms[0].id,
                "event_time": 1700000000.0,
                "backfilled": False,
                "extra_data": '{"RealmAuditLog.ROLE_COUNT": {"10": 1}}',
                "event_type": 101,
            }
            for row_id in self.realmauditlog_ids
            if row_id > last_audit
        ]
        # AnalyticsRequest.model_dump(round_trip=True): every Json[...] field as JSON text.
        request = {
            "realm_counts": json.dumps(realm_counts),
            "installation_counts": json.dumps([]),
            "realmauditlog_rows": json.dumps(audit_rows),
            "realms": json.dumps([realm.info() for realm in self.realms]),
            "version": json.dumps(self.version),
            "merge_base": json.dumps("d9d5ae7a7d"),
            "api_feature_level": json.dumps(self.api_feature_level),
        }
        response = self.send_to_push_bouncer("POST", "server/analytics", request)
        assert isinstance(response["realms"], dict)
        for realm_uuid, data in response["realms"].items():
            self.push_notifications_enabled[realm_uuid] = data["can_push"]
            assert "expected_end_timestamp" in data
        return response

    # --- self_hosting_auth_redirect: the admin's "Plans and billing" menu item --------------

    def billing_access_url(
        self, realm: Realm, user: dict[str, Any], next_page: str | None = None
    ) -> str:
        post_data = {
            "user": json.dumps(user),
            "realm": json.dumps(realm.info()),
            "uri_scheme": "https://",
        }
        if next_page is not None:
            post_data["next_page"] = next_page
        try:
            result = self.send_to_push_bouncer("POST", "server/billing", post_data)
        except MissingRemoteRealmError:
            self.send_server_data_to_push_bouncer()
            result = self.send_to_push_bouncer("POST", "server/billing", post_data)
        if result["result"] != "success":
            raise JsonableError(f"Error returned by the bouncer: {result}")
        redirect_url = result["billing_access_url"]
        assert isinstance(redirect_url, str)
        return redirect_url
