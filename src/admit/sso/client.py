"""The Python API: the operations of /zato/sso/ as plain calls, for code that embeds admit.

Each method calls the same flow as its REST endpoint and raises the same
``admit.core.errors.AdmitError`` (its ``codes`` are the REST ``sub_status``; the REST layer
hides some of them by policy, this API does not, since its caller is trusted code). Django
must be set up (``DJANGO_SETTINGS_MODULE=admit.settings``).

    from admit.sso.client import SSO

    sso = SSO()
    signed_up = sso.signup("user1", "VrF57-H31 7!HIj%fSAz :L9", "user1@example.com", "CRM")
    sso.confirm_signup(signed_up.confirm_token)
    ust = sso.login("boss", "...", "CRM").ust
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from admit.core.context import Caller
from admit.sso import flows
from admit.sso.flows.login import LoginRequest, LoginResult
from admit.sso.flows.signup import SignupResult
from admit.sso.models import Session, User
from admit.sso.rules import SignupRequest


class SSO:
    def __init__(self, remote_ip: str | None = None, user_agent: str = "admit.sso.client"):
        self.remote_ip = remote_ip
        self.user_agent = user_agent

    def _caller(self) -> Caller:
        return Caller(remote_ip=self.remote_ip, user_agent=self.user_agent)

    # Sign-up and its queue
    def signup(
        self,
        username: str,
        password: str,
        email: str,
        current_app: str,
        app_list: list[str] | None = None,
        **extra: str,
    ) -> SignupResult:
        request = SignupRequest(
            username, password, email, current_app, app_list or [current_app], **extra
        )
        return flows.signup(request, self._caller())

    def confirm_signup(self, confirm_token: str) -> None:
        flows.confirm_signup(confirm_token, self._caller())

    def pending(
        self, ust: str, status: str = "to-approve", page: int = 1, page_size: int = 50
    ) -> flows.PendingPage:
        return flows.list_pending(ust, status, page, page_size)  # type: ignore[arg-type]

    def approve(self, ust: str, user_id: str) -> None:
        flows.approve(user_id, ust, self._caller())

    def reject(self, ust: str, user_id: str, reason: str = "") -> None:
        flows.reject(user_id, reason, ust, self._caller())

    # Log-in and sessions
    def login(self, username: str, password: str, current_app: str, **extra: str) -> LoginResult:
        return flows.login(LoginRequest(username, password, current_app, **extra), self._caller())

    def logout(self, ust: str, current_app: str) -> None:
        flows.logout(ust, current_app, self._caller())

    def verify(self, current_ust: str, target_ust: str = "") -> bool:
        return flows.verify(current_ust, target_ust or current_ust)

    def session(self, current_ust: str, target_ust: str = "") -> Session:
        return flows.describe(current_ust, target_ust)

    def renew(self, ust: str, current_app: str = "") -> datetime:
        return flows.renew(ust, current_app, self._caller())

    def sessions(self, ust: str, user_id: str = "") -> list[Session]:
        return flows.list_sessions(ust, user_id)

    def end_session(self, current_ust: str, target_ust: str = "") -> None:
        flows.end_session(current_ust, target_ust, self._caller())

    def end_other_sessions(self, ust: str) -> int:
        return flows.end_other_sessions(ust, self._caller())

    # Users
    def user(self, ust: str, user_id: str = "") -> User:
        return flows.get_user(ust, user_id)

    def create_user(self, ust: str, username: str, password: str, email: str, **extra: Any) -> User:
        return flows.create_user(
            ust, flows.NewUser(username, email, password, **extra), self._caller()
        )

    def update_user(self, ust: str, user_id: str = "", **changes: Any) -> User:
        return flows.update_user(ust, changes, self._caller(), user_id)

    def delete_user(self, ust: str, user_id: str) -> None:
        flows.delete_user(ust, user_id, self._caller())

    def lock(self, ust: str, user_id: str) -> None:
        flows.set_lock(ust, user_id, True, self._caller())

    def unlock(self, ust: str, user_id: str) -> None:
        flows.set_lock(ust, user_id, False, self._caller())

    def change_password(self, ust: str, new_password: str, **options: Any) -> None:
        flows.change_password(ust, new_password, self._caller(), **options)

    def enable_totp(
        self, ust: str, totp_key: str = "", totp_label: str = "", totp_code: str = ""
    ) -> str:
        return flows.enable_totp(ust, totp_key, totp_label, self._caller(), totp_code)

    # Password reset
    def request_reset(self, credential: str, current_app: str = "") -> None:
        flows.request_reset(credential, current_app, self._caller())

    def open_reset(self, token: str) -> str:
        return flows.open_reset(token, self._caller())

    def finish_reset(self, token: str, reset_key: str, password: str) -> None:
        flows.finish_reset(token, reset_key, password, self._caller())
