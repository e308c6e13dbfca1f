"""admit as a Zato SSO client sees it: one whole life driven through Zato's paths, field
names and status codes only.

``ZatoClient`` knows nothing of admit: it speaks JSON to /zato/sso/..., sends Zato's fields
and reads Zato's answers ({"status": "ok"|"error", "sub_status": [...]}). Where admit has
paths or fields of its own (/user/signup/confirm, /user/signup/approve, ...), this client
never uses them. The TOTP codes come from an RFC 6238 implementation of the test's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from admit.mail.models import OutgoingEmail
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD

pytestmark = pytest.mark.django_db

APP = "CRM"


class ZatoError(Exception):
    def __init__(self, http_status: int, sub_status: list[str]) -> None:
        super().__init__(f"{http_status} {sub_status}")
        self.http_status = http_status
        self.sub_status = sub_status


class ZatoClient:
    """A Zato SSO REST client: Zato's paths, Zato's field names, JSON bodies; an error
    answer raises ``ZatoError`` with its ``sub_status``."""

    def __init__(self, remote_addr: str = "198.51.100.20") -> None:
        self.http = Client(REMOTE_ADDR=remote_addr)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict:
        url = f"/zato/sso/{path}"
        if method == "GET":
            query = {name: value for name, value in (body or {}).items() if value is not None}
            response = self.http.get(f"{url}?{urlencode(query)}" if query else url)
        else:
            response = self.http.generic(
                method, url, json.dumps(body or {}), content_type="application/json"
            )
        answer = response.json()
        if answer["status"] == "error":
            raise ZatoError(response.status_code, answer["sub_status"])
        assert response.status_code == 200 and answer["status"] == "ok", response.content
        return answer

    def call(self, method: str, path: str, body: dict[str, Any]) -> dict:
        """Any other call, as Zato names it (attributes, session lists)."""
        return self._call(method, path, {**body, "current_app": APP})

    # Sign-up: zato.sso.signup
    def signup(self, username: str, password: str, email: str, app_list: list[str]) -> dict:
        body = {
            "username": username,
            "password": password,
            "email": email,
            "current_app": APP,
            "app_list": app_list,
        }
        return self._call("POST", "user/signup", body)

    def confirm_signup(self, confirm_token: str) -> dict:
        return self._call("PATCH", "user/signup", {"confirm_token": confirm_token})

    def approve(self, ust: str, user_id: str) -> dict:
        return self._call("POST", "user/approve", {"ust": ust, "user_id": user_id})

    def reject(self, ust: str, user_id: str) -> dict:
        return self._call("POST", "user/reject", {"ust": ust, "user_id": user_id})

    # Log-in and sessions: zato.sso.user.login / logout, zato.sso.session
    def login(self, username: str, password: str, totp_code: str | None = None) -> str:
        body = {"username": username, "password": password, "current_app": APP}
        if totp_code is not None:
            body["totp_code"] = totp_code
        return self._call("POST", "user/login", body)["ust"]

    def logout(self, ust: str) -> dict:
        return self._call("POST", "user/logout", {"ust": ust, "current_app": APP})

    def is_session_valid(self, current_ust: str, target_ust: str = "") -> bool:
        body = {"current_ust": current_ust, "target_ust": target_ust or current_ust}
        return self._call("POST", "user/session", {**body, "current_app": APP})["is_valid"]

    # Users: zato.sso.user
    def get_user(self, ust: str, user_id: str | None = None) -> dict:
        return self._call("GET", "user", {"ust": ust, "current_app": APP, "user_id": user_id})

    def create_user(self, ust: str, **fields: Any) -> dict:
        return self._call("POST", "user", {"ust": ust, "current_app": APP, **fields})

    def update_user(self, ust: str, **fields: Any) -> dict:
        return self._call("PATCH", "user", {"ust": ust, "current_app": APP, **fields})

    def search(self, ust: str, **criteria: Any) -> dict:
        text = {k: str(v).lower() if isinstance(v, bool) else v for k, v in criteria.items()}
        return self._call("GET", "user/search", {"ust": ust, "current_app": APP, **text})

    def change_password(self, ust: str, new_password: str, **fields: Any) -> dict:
        body = {"ust": ust, "current_app": APP, "new_password": new_password, **fields}
        return self._call("PATCH", "user/password", body)

    def reset_totp_key(self, ust: str, **fields: Any) -> dict:
        return self._call("PATCH", "user/totp", {"ust": ust, "current_app": APP, **fields})

    # Password reset: zato.sso.password_reset
    def request_password_reset(self, credential: str) -> dict:
        return self._call("POST", "password/reset", {"credential": credential, "current_app": APP})

    def access_password_reset(self, token: str) -> str:
        return self._call("PATCH", "password/reset", {"token": token})["reset_key"]

    def complete_password_reset(self, token: str, reset_key: str, password: str) -> dict:
        body = {"token": token, "reset_key": reset_key, "password": password}
        return self._call("DELETE", "password/reset", body)


def refused_with(code: str, call, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ZatoError) as error:
        call(*args, **kwargs)
    assert error.value.sub_status == [code], error.value.sub_status
    assert error.value.http_status in (400, 403)


def totp_code(key: str, unix_time: float) -> str:
    """RFC 6238 (SHA-1, 30 seconds, six digits), the defaults Zato's clients use."""
    secret = base64.b32decode(key + "=" * (-len(key) % 8), casefold=True)
    mac = hmac.new(secret, struct.pack(">Q", int(unix_time) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return str((int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**6).zfill(6)


def reset_token_mailed_to(address: str) -> str:
    """The password-reset token in the newest reset e-mail to ``address`` (the outbox is
    what the person's mailbox would get)."""
    mail = OutgoingEmail.objects.filter(template="password_reset", to=address).latest("id")
    (token,) = set(re.findall(r"zcnt[0-9a-f]{32}", mail.body_text))
    return token


def test_a_whole_life_through_zatos_api(superuser, clock):
    zato = ZatoClient()
    person_password = GOOD_PASSWORD

    # A super-user logs in.
    admin = zato.login("boss", ADMIN_PASSWORD)
    assert zato.is_session_valid(admin)

    # ... and creates a user, who gets the whole record back and can log in at once.
    created = zato.create_user(
        admin,
        username="carol",
        password=GOOD_PASSWORD,
        email="carol@example.com",
        first_name="Carol",
        last_name="Collins",
        auto_approve=True,
    )
    assert created["user_id"].startswith("zusr")
    assert created["display_name"] == "Carol Collins"
    assert (created["sign_up_status"], created["approval_status"]) == ("final", "approved")
    assert created["password_is_set"] is True and created["is_super_user"] is False
    assert zato.is_session_valid(admin, zato.login("carol", GOOD_PASSWORD))

    # A person signs up ...
    signed_up = zato.signup("dave", person_password, "dave@example.com", [APP])
    confirm_token = signed_up["confirm_token"]
    refused_with("E005003", zato.login, "dave", person_password)
    # ... confirms (Zato's PATCH on the sign-up) ...
    zato.confirm_signup(confirm_token)
    refused_with("E005007", zato.confirm_signup, confirm_token)
    refused_with("E005004", zato.login, "dave", person_password)
    # ... the super-user finds them waiting and approves them.
    waiting = zato.search(admin, approval_status="before_decision")
    assert [user["username"] for user in waiting["result"]] == ["dave"]
    dave = waiting["result"][0]
    assert dave["sign_up_status"] == "to_approve" and dave["is_approval_needed"] is True
    zato.approve(admin, dave["user_id"])

    # The person logs in and reads their own record: the regular fields, no user_id.
    ust = zato.login("dave", person_password)
    own = zato.get_user(ust)
    assert own["username"] == "dave" and own["email"] == "dave@example.com"
    assert own["is_totp_enabled"] is False
    assert "user_id" not in own and "is_super_user" not in own and "approval_status" not in own
    # Anyone else's record is not theirs to read.
    refused_with("E005001", zato.get_user, ust, created["user_id"])

    # Second factor: a new key (TOTP still off), then switched on with a code of it.
    key = zato.reset_totp_key(ust, totp_label="dave's phone")["totp_key"]
    assert zato.get_user(ust)["is_totp_enabled"] is False
    refused_with("E005008", zato.update_user, ust, is_totp_enabled=True)
    zato.update_user(ust, is_totp_enabled=True, totp_code=totp_code(key, clock().timestamp()))
    assert zato.get_user(ust)["is_totp_enabled"] is True
    assert zato.get_user(ust)["totp_label"] == "dave's phone"
    clock.advance(seconds=60)  # a fresh code: the one that switched TOTP on is spent
    refused_with("E005008", zato.login, "dave", person_password)
    right = totp_code(key, clock().timestamp())
    refused_with(
        "E005001", zato.login, "dave", person_password, "1" * 6 if right == "0" * 6 else "0" * 6
    )
    ust = zato.login("dave", person_password, totp_code(key, clock().timestamp()))
    assert zato.is_session_valid(admin, ust)

    # The person changes their names; the super-user sees them.
    zato.update_user(ust, first_name="David", last_name="Jones")
    # As Zato, only creation composes a display name from the names; a change leaves it.
    assert zato.get_user(ust)["display_name"] == ""
    found = zato.search(admin, last_name="jones")
    assert [user["username"] for user in found["result"]] == ["dave"]
    assert found["total"] == 1 and found["cur_page"] == 1 and found["has_next_page"] is False
    loose = zato.search(admin, first_name="a", is_name_exact=False, name_op="or", page_size=1)
    assert loose["total"] == 2 and loose["num_pages"] == 2 and loose["next_page"] == 2
    # A regular user cannot search.
    refused_with("E005001", zato.search, ust, username="carol")

    # The password is forgotten: reset through the e-mailed token.
    zato.request_password_reset("dave@example.com")
    token = reset_token_mailed_to("dave@example.com")
    reset_key = zato.access_password_reset(token)
    person_password = "A brand new passphrase, 2027"
    zato.complete_password_reset(token, reset_key, person_password)
    refused_with("E005001", zato.login, "dave", GOOD_PASSWORD, totp_code(key, clock().timestamp()))
    clock.advance(seconds=30)
    ust = zato.login("dave", person_password, totp_code(key, clock().timestamp()))

    # Attributes: the person keeps a preference, one for this session, and reads them back.
    zato.call("POST", "user/attr", {"ust": ust, "name": "theme", "value": "dark"})
    refused_with(
        "E009001", zato.call, "POST", "user/attr", {"ust": ust, "name": "theme", "value": 1}
    )
    found = zato.call("GET", "user/attr", {"ust": ust, "name": "theme"})
    assert (found["found"], found["value"]) == (True, "dark")
    session_attr = {"current_ust": ust, "target_ust": ust, "name": "cart", "value": [1, 2]}
    zato.call("POST", "session/attr", session_attr)
    names = zato.call("GET", "session/attr/names", {"current_ust": ust, "target_ust": ust})
    assert names["result"] == ["cart"]
    # The super-user reads the person's attribute; the person cannot read the super-user's.
    dave_id = zato.search(admin, username="dave")["result"][0]["user_id"]
    theirs = zato.call("GET", "user/attr", {"ust": admin, "user_id": dave_id, "name": "theme"})
    assert theirs["value"] == "dark"
    refused_with(
        "E005001", zato.call, "GET", "user/attr", {"ust": ust, "user_id": "zusr0", "name": "theme"}
    )

    # Session lists: the person's own, and the super-user's view of them by target_ust.
    own = zato.call("GET", "user/session/list", {"ust": ust})["result"]
    assert len(own) == 1 and own[0]["session_state_change_list"][0]["ctx_source"] == "login"
    listed = {"current_ust": admin, "target_ust": ust}
    assert len(zato.call("GET", "user/session/list", listed)["result"]) == 1

    # The person logs out: the session is gone for them and for the super-user.
    zato.logout(ust)
    refused_with("E007001", zato.get_user, ust)
    assert not zato.is_session_valid(admin, ust)
    assert zato.is_session_valid(admin)


def test_a_user_created_without_a_password_gets_one_from_a_superuser(superuser):
    zato = ZatoClient()
    admin = zato.login("boss", ADMIN_PASSWORD)
    created = zato.create_user(admin, username="erin", auto_approve=True)
    assert created["password_is_set"] is False and created["email"] == ""
    refused_with("E005001", zato.login, "erin", GOOD_PASSWORD)
    zato.change_password(admin, GOOD_PASSWORD, user_id=created["user_id"], password_expiry=0)
    assert zato.get_user(admin, created["user_id"])["password_is_set"] is True
    ust = zato.login("erin", GOOD_PASSWORD)
    assert zato.get_user(ust)["username"] == "erin"


def test_a_rejected_signup_is_gone(superuser):
    zato = ZatoClient()
    admin = zato.login("boss", ADMIN_PASSWORD)
    token = zato.signup("frank", GOOD_PASSWORD, "frank@example.com", [APP])["confirm_token"]
    zato.confirm_signup(token)
    (frank,) = zato.search(admin, username="frank")["result"]
    zato.reject(admin, frank["user_id"])
    refused_with("E001100", zato.approve, admin, frank["user_id"])
    assert zato.search(admin, username="frank")["result"] == []
    refused_with("E005001", zato.login, "frank", GOOD_PASSWORD)


def test_a_superuser_cannot_shut_themselves_out(superuser):
    zato = ZatoClient()
    admin = zato.login("boss", ADMIN_PASSWORD)
    refused_with("E008001", zato.update_user, admin, is_locked=True)
    refused_with("E008001", zato.update_user, admin, approval_status="before_decision")
    assert zato.get_user(admin)["is_locked"] is False
