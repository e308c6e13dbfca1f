"""The SSO operations as plain functions: each runs in a transaction, writes its audit row,
queues its e-mail and raises ``AdmitError`` with the seed's codes. They know nothing of HTTP."""

from admit.sso.flows.approval import PendingPage, approve, list_pending, reject
from admit.sso.flows.sessions import LoginResult, login, logout, superuser_for, user_for
from admit.sso.flows.signup import SignupResult, confirm_signup, signup

__all__ = [
    "LoginResult",
    "PendingPage",
    "SignupResult",
    "approve",
    "confirm_signup",
    "list_pending",
    "login",
    "logout",
    "reject",
    "signup",
    "superuser_for",
    "user_for",
]
