"""The SSO operations as plain functions: each runs in a transaction, writes its audit row,
queues its e-mail and raises ``AdmitError`` with the seed's codes. They know nothing of HTTP."""

from admit.sso.flows.approval import PendingPage, approve, list_pending, reject
from admit.sso.flows.login import LoginRequest, LoginResult, login, logout
from admit.sso.flows.reset import finish_reset, open_reset, request_reset
from admit.sso.flows.sessions import (
    describe,
    end_other_sessions,
    end_session,
    list_sessions,
    live_session,
    renew,
    superuser_for,
    user_for,
    verify,
)
from admit.sso.flows.signup import SignupResult, confirm_signup, signup
from admit.sso.flows.user_search import Criteria, SearchPage, console_search, search_users
from admit.sso.flows.users import (
    NewUser,
    change_password,
    create_superuser,
    create_user,
    delete_user,
    enable_totp,
    get_user,
    read_user,
    reset_totp_key,
    set_lock,
    update_user,
)

__all__ = [
    "Criteria",
    "LoginRequest",
    "LoginResult",
    "NewUser",
    "PendingPage",
    "SearchPage",
    "SignupResult",
    "approve",
    "change_password",
    "confirm_signup",
    "console_search",
    "create_superuser",
    "create_user",
    "delete_user",
    "describe",
    "enable_totp",
    "end_other_sessions",
    "end_session",
    "finish_reset",
    "get_user",
    "list_pending",
    "list_sessions",
    "live_session",
    "login",
    "logout",
    "open_reset",
    "read_user",
    "reject",
    "reset_totp_key",
    "renew",
    "request_reset",
    "search_users",
    "set_lock",
    "signup",
    "superuser_for",
    "update_user",
    "user_for",
    "verify",
]
