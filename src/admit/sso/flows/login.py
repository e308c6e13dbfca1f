"""Log-in and log-out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db.models import F

from admit.audit.log import AuditEntry, audited
from admit.core import clock, rows
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import Counter
from admit.sso import lockout
from admit.sso.flows.sessions import end_sessions_of, open_session, session_for
from admit.sso.models import LoginPause, Session, User, normalize_username
from admit.sso.passwords import set_password
from admit.sso.second_factor import claim_code


@dataclass(frozen=True)
class LoginRequest:
    username: str
    password: str
    current_app: str
    totp_code: str = ""
    new_password: str = ""
    remote_addr: str = ""


@dataclass(frozen=True)
class LoginResult:
    ust: str
    user_id: str
    expires_at: datetime
    warnings: list[str] = field(default_factory=list)


@cache
def _dummy_hash() -> str:
    return make_password("an unknown user still costs one hash")


def _hidden_unless(flag: bool, code: Code, message: str) -> AdmitError:
    return AdmitError(code, message, shown=None if flag else [Code.NOT_ALLOWED])


def login(request: LoginRequest, caller: Caller) -> LoginResult:
    """A new session, after the checks in the order the API promises.

    Who may learn what: an unknown user and a wrong password answer alike (E005001) and cost
    one hash each; the account's state (unapproved, locked, unconfirmed, expired password) is
    told only to whoever gave the right password, and each of those can be hidden by
    ``[login] inform_if_*``. Failures count towards the address's rate limit and the
    username's growing pause whether or not the username exists, and towards the account's
    lock after ``[login] max_consecutive_failures``.

    The new session, its event, the user's ``last_login`` and the audit row go to the database
    together at the end (``batch_only``). The rarer writes on the way are committed when they
    happen: a claimed TOTP code stays spent (also if the log-in is then refused), and a forced
    password change stands, with the user's other sessions ended, before the new session is
    written.
    """
    policy = settings.ADMIT_POLICY
    with audited("login", caller, app=request.current_app, batch_only=True) as audit:
        if request.current_app not in policy.apps.all:
            raise AdmitError(Code.APP_INVALID, f"unknown app {request.current_app!r}")
        attempt = _Attempt(request, caller, audit)
        user = attempt.authenticate()
        warnings = _check_account(user, request, caller, audit)
        if attempt.failures_on_record:
            lockout.clear(attempt.username_key)
        ust, session = open_session(user, request.current_app, caller, request.remote_addr)
        rows.update_at_commit(user, last_login=session.created_at, failed_logins=0)
        if warnings:
            audit.extra_data["warnings"] = warnings
        return LoginResult(ust, user.user_id, session.expires_at, warnings)


class _Attempt:
    """One log-in attempt's credentials check and the failure counting it triggers."""

    def __init__(self, request: LoginRequest, caller: Caller, audit: AuditEntry):
        self.request = request
        self.caller = caller
        self.audit = audit
        self.username_key = normalize_username(request.username)
        limit = settings.ADMIT_POLICY.rate_limits.login_failures_per_address
        self.address_failures = (
            Counter("login-failures-address", caller.remote_ip, limit) if caller.remote_ip else None
        )
        self.failures_on_record = False

    def authenticate(self) -> User:
        """The user, once the address's failures, the username's pause and the password let
        the attempt through; the user, the pause and the address's count come in one query."""
        found = _find(self.username_key, self.address_failures)
        if self.address_failures is not None:
            self.address_failures.check(found.address_failures)
        self.failures_on_record = lockout.refuse_if_paused(found.pause)
        user = found.user
        if user is None:
            check_password(self.request.password, _dummy_hash())
            raise self._failure(None, Code.NOT_ALLOWED, "no such user")
        self.audit.target_user_id = user.user_id
        if not user.check_password(self.request.password):
            raise self._failure(user, Code.NOT_ALLOWED, "wrong password")
        if not user.is_approved:
            raise _not_approved(user)
        if user.has_totp:
            self._check_totp(user)
        return user

    def _check_totp(self, user: User) -> None:
        code = self.request.totp_code
        if not code:
            raise AdmitError(Code.TOTP_CODE_REQUIRED, "a TOTP code is required")
        if not claim_code(user, code):
            raise self._failure(
                user, Code.TOTP_CODE_INVALID, "wrong, expired or already used TOTP code"
            )

    def _failure(self, user: User | None, code: Code, message: str) -> AdmitError:
        # Counted after the refusal's rollback: the default cache is a table in the same
        # database, so counting here, inside the flow's transaction, would be undone with it.
        self.audit.after_refusal.append(self._count_failure)
        if user is not None:
            self.audit.after_refusal.append(lambda: _count_failed_login(user.pk))
        return AdmitError(code, message)

    def _count_failure(self) -> None:
        if self.address_failures is not None:
            self.address_failures.count()
        lockout.record_failure(self.username_key)


@dataclass(frozen=True)
class _Found:
    user: User | None
    pause: LoginPause | None
    address_failures: int | None


@cache
def _found_sql(counted_sql: str) -> str:
    return (
        f"SELECT {rows.columns(User, 'u')}, {rows.columns(LoginPause, 'p')}, {counted_sql}"  # noqa: S608
        " FROM (SELECT 1) AS one LEFT JOIN sso_user u ON u.username_key = %s"
        " LEFT JOIN sso_loginpause p ON p.subject = %s"
    )


def _find(username_key: str, counter: Counter | None) -> _Found:
    """The user with ``username_key``, the username's pause and ``counter``'s count, in one
    query written out: on the log-in path the ORM spent more time building queries than the
    database spent answering them."""
    counted_sql, counted_params = counter.column() if counter else ("NULL", [])
    row = rows.fetch_one(
        _found_sql(counted_sql), [*counted_params, username_key, lockout.subject(username_key)]
    )
    assert row is not None  # the join starts from a one-row table
    pause_at = rows.width(User)
    count_at = pause_at + rows.width(LoginPause)
    return _Found(
        rows.load(User, row[:pause_at]) if row[0] is not None else None,
        rows.load(LoginPause, row[pause_at:count_at]) if row[pause_at] is not None else None,
        row[count_at],
    )


def _not_approved(user: User) -> AdmitError:
    """An unconfirmed sign-up is not approved either; it is told what it can act on."""
    rules = settings.ADMIT_POLICY.login
    if not user.is_confirmed:
        return _hidden_unless(
            rules.inform_if_not_confirmed, Code.USER_NOT_CONFIRMED, "not confirmed"
        )
    return _hidden_unless(rules.inform_if_not_approved, Code.USER_NOT_APPROVED, "not approved yet")


def _count_failed_login(user_pk: int) -> None:
    """One more consecutive failure; at ``max_consecutive_failures`` the account is locked
    and, as with any lock, its sessions end."""
    lock_at = settings.ADMIT_POLICY.login.max_consecutive_failures
    User.objects.filter(pk=user_pk).update(failed_logins=F("failed_logins") + 1)
    locked = User.objects.filter(pk=user_pk, failed_logins__gte=lock_at, is_locked=False).update(
        is_locked=True, locked_at=clock.now(), locked_by=""
    )
    if locked:
        Session.objects.filter(user_id=user_pk).delete()


def _check_account(
    user: User, request: LoginRequest, caller: Caller, audit: AuditEntry
) -> list[str]:
    """App, lock, confirmation, password expiry, forced change; returns the warnings."""
    policy = settings.ADMIT_POLICY
    if request.current_app not in policy.apps.login_allowed:
        raise AdmitError(Code.APP_INVALID, f"app {request.current_app!r} may not log users in")
    if user.is_locked:
        raise _hidden_unless(policy.login.inform_if_locked, Code.USER_LOCKED, "user is locked")
    if not user.is_confirmed:
        raise _hidden_unless(
            policy.login.inform_if_not_confirmed, Code.USER_NOT_CONFIRMED, "not confirmed"
        )
    now = clock.now()
    if user.password_expiry and user.password_expiry <= now:
        raise _hidden_unless(
            policy.login.inform_if_password_expired, Code.PASSWORD_EXPIRED, "password expired"
        )
    if user.password_must_change:
        if not request.new_password:
            raise AdmitError(Code.PASSWORD_MUST_CHANGE, "the password must be changed")
        fields = set_password(user, request.new_password)
        user.save(update_fields=fields)
        end_sessions_of(user)
        audit.extra_data["password_changed"] = True
    warn_from = now + timedelta(days=policy.password.warn_days)
    if user.password_expiry and user.password_expiry <= warn_from:
        return [Code.PASSWORD_EXPIRING]
    return []


def logout(ust: str, current_app: str, caller: Caller) -> None:
    """Ends the session if there is one; answers the same either way."""
    with audited("logout", caller, app=current_app) as audit:
        session = session_for(ust)
        if session is not None:
            audit.target_user_id = session.user.user_id
            session.delete()
