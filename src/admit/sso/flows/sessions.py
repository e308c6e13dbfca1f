"""Log-in, log-out, and resolving a ``ust`` to its user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

from admit.audit.log import audited
from admit.core import clock
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.secrets import digest, is_secret_shaped, new_secret
from admit.sso.models import Session, User, normalize_username

UST_PREFIX = "zust"


@dataclass(frozen=True)
class LoginResult:
    ust: str
    user_id: str
    expires_at: datetime


@cache
def _dummy_hash() -> str:
    return make_password("an unknown user still costs one hash")


def login(
    username: str,
    password: str,
    current_app: str,
    caller: Caller,
    remote_addr: str = "",
) -> LoginResult:
    """A new session for the user, after the password and the account's state are checked.

    Unknown users and wrong passwords get the same answer and cost the same hash; the
    account's state (locked, unconfirmed, unapproved) is told only to whoever knows the
    password.
    """
    policy = settings.ADMIT_POLICY
    with audited("login", caller, app=current_app) as audit:
        if current_app not in policy.apps.all:
            raise AdmitError(Code.APP_INVALID, f"unknown app {current_app!r}")
        user = User.objects.filter(username_key=normalize_username(username)).first()
        if user is None:
            check_password(password, _dummy_hash())
            raise AdmitError(Code.NOT_ALLOWED, "no such user")
        audit.target_user_id = user.user_id
        if not user.check_password(password):
            raise AdmitError(Code.NOT_ALLOWED, "wrong password")
        if user.is_locked:
            raise AdmitError(Code.USER_LOCKED, "user is locked")
        if not user.is_confirmed:
            raise AdmitError(Code.USER_NOT_CONFIRMED, "user has not confirmed the sign-up")
        if not user.is_approved:
            raise AdmitError(Code.USER_NOT_APPROVED, "user is not approved yet")
        if current_app not in policy.apps.login_allowed:
            raise AdmitError(Code.APP_INVALID, f"app {current_app!r} may not log users in")
        now = clock.now()
        ust = new_secret(UST_PREFIX)
        session = Session.objects.create(
            ust_digest=digest(ust),
            user=user,
            app=current_app,
            created_at=now,
            expires_at=now + timedelta(seconds=policy.session.expiry),
            remote_ip=caller.remote_ip,
            remote_addr=remote_addr[:255],
            user_agent=caller.user_agent[:512],
        )
        User.objects.filter(pk=user.pk).update(last_login=now)
        return LoginResult(ust=ust, user_id=user.user_id, expires_at=session.expires_at)


def logout(ust: str, current_app: str, caller: Caller) -> None:
    """Ends the session if there is one; answers the same either way."""
    with audited("logout", caller, app=current_app) as audit:
        session = _session_for(ust)
        if session is not None:
            audit.target_user_id = session.user.user_id
            session.delete()


def _session_for(ust: str) -> Session | None:
    if not is_secret_shaped(ust, UST_PREFIX):
        return None
    return Session.objects.select_related("user").filter(ust_digest=digest(ust)).first()


def user_for(ust: str) -> User:
    session = _session_for(ust)
    if session is None:
        raise AdmitError(Code.NO_SUCH_SESSION, "no such session")
    if session.expires_at <= clock.now():
        raise AdmitError(Code.SESSION_EXPIRED, "session expired")
    return session.user


def superuser_for(ust: str) -> User:
    user = user_for(ust)
    if not (user.is_superuser and user.is_active):
        raise AdmitError(Code.SUPERUSER_REQUIRED, "a super-user is required")
    return user
