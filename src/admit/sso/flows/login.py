"""Log-in and log-out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

from admit.audit.log import AuditEntry, audited
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.sso import queries, throttle
from admit.sso.flows.sessions import end_sessions_of, open_session, session_for
from admit.sso.models import User, normalize_username
from admit.sso.passwords import set_password
from admit.sso.second_factor import claim_code

# A known address's last log-in is written again at most this often (a write less per log-in).
RENEW_KNOWN = timedelta(days=1)


@dataclass(frozen=True)
class LoginRequest:
    username: str
    password: str
    current_app: str
    totp_code: str = ""
    new_password: str = ""
    # What the application says of its own user; only [apps] login_metadata_allowed may.
    remote_addr: str = ""
    user_agent: str = ""


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
    one hash and the same writes each; the account's state (unapproved, locked, unconfirmed,
    expired password) is told only to whoever gave the right password, and each of those can
    be hidden by ``[login] inform_if_*``. How many guesses are evaluated, and from where, is
    ``admit.sso.throttle``'s business.

    The new session, its event, the user's ``last_login``, the address it came from and the
    audit row go to the database together at the end (``deferred``). The rarer writes on
    the way are committed when they happen: a guess's claim on the throttle's buckets, a
    claimed TOTP code (which stays spent also if the log-in is then refused), and a forced
    password change, with the user's other sessions ended, before the new session is written.
    """
    policy = settings.ADMIT_POLICY
    with audited("login", caller, app=request.current_app, deferred=True) as audit:
        if request.current_app not in policy.apps.all:
            raise AdmitError(Code.APP_INVALID, f"unknown app {request.current_app!r}")
        attempt = _Attempt(request, caller, audit)
        user = attempt.authenticate()
        warnings = _check_account(user, request, attempt.known_address, audit)
        ust, session = open_session(
            user, request.current_app, caller, request.remote_addr, user.is_totp_enabled
        )
        cleared = {name: getattr(user, name) for name in throttle.clear_failures(user)}
        unit_of_work.update_later(user, last_login=session.created_at, **cleared)
        attempt.guesses.succeeded()
        if caller.remote_ip and not attempt.address_seen_since(session.created_at - RENEW_KNOWN):
            queries.remember_address_at_commit(user, caller.remote_ip, session.created_at)
        if warnings:
            audit.extra_data["warnings"] = warnings
        return LoginResult(ust, user.user_id, session.expires_at, warnings)


class _Attempt:
    """One log-in attempt's credentials check and the failure counting it triggers."""

    def __init__(self, request: LoginRequest, caller: Caller, audit: AuditEntry):
        self.request = request
        self.audit = audit
        self.username_key = normalize_username(request.username)
        self.address = caller.remote_ip
        self.guesses = throttle.Guesses(self.username_key, self.address)
        # When the user last logged in from this address, if lately (``authenticate``).
        self.address_last_seen: datetime | None = None

    @property
    def known_address(self) -> bool:
        return self.address_last_seen is not None

    def authenticate(self) -> User:
        """The user, once the throttle admits the guess and the password and TOTP code are
        right. Refusals after the right password (unapproved, code missing) are not failures."""
        if not self.username_key or not self.request.password:
            # No username or no password: refused as a wrong password is, before anything is
            # looked up or hashed. The guess still takes its slots from the address's buckets.
            self.guesses.admit(known_address=True)
            raise AdmitError(
                Code.NOT_ALLOWED, "no username or no password", shown=[Code.NOT_ALLOWED]
            )
        found = queries.login_candidate(self.username_key, self.address, throttle.known_since())
        self.address_last_seen = found.address_last_seen
        self.guesses.admit(self.known_address)
        user = found.user
        if user is None or (throttle.is_locked_automatically(user) and not self.known_address):
            # No account, or one that failures have locked against unknown addresses: the
            # password is not looked at, but costs the same hash.
            check_password(self.request.password, _dummy_hash())
            raise self._failure(Code.NOT_ALLOWED, "no such user, or locked against guesses")
        self.audit.target_user_id = user.user_id
        if not user.check_password(self.request.password):
            raise self._failure(Code.NOT_ALLOWED, "wrong password")
        if not user.is_approved:
            self.guesses.credentials_were_right()
            raise _not_approved(user)
        if user.is_totp_enabled:
            self._check_totp(user)
        self.guesses.credentials_were_right()
        return user

    def address_seen_since(self, moment: datetime) -> bool:
        return self.address_last_seen is not None and self.address_last_seen >= moment

    def _check_totp(self, user: User) -> None:
        code = self.request.totp_code
        if not code:
            self.guesses.credentials_were_right()
            raise AdmitError(Code.TOTP_CODE_MISSING, "a TOTP code is required")
        if not claim_code(user, code):
            raise self._failure(Code.TOTP_CODE_INVALID, "wrong, expired or already used TOTP code")

    def _failure(self, code: Code, message: str) -> AdmitError:
        # Counted after the refusal's rollback, in the same way whether or not the user exists.
        username_key = self.username_key
        unit_of_work.after_refusal(lambda: throttle.count_failure(username_key))
        # A wrong code answers as a wrong password does (Zato); the audit row keeps which.
        return AdmitError(code, message, shown=[Code.NOT_ALLOWED])


def _not_approved(user: User) -> AdmitError:
    """An unconfirmed sign-up is not approved either; it is told what it can act on."""
    rules = settings.ADMIT_POLICY.login
    if not user.is_confirmed:
        return _hidden_unless(
            rules.inform_if_not_confirmed, Code.USER_NOT_CONFIRMED, "not confirmed"
        )
    return _hidden_unless(rules.inform_if_not_approved, Code.USER_NOT_APPROVED, "not approved yet")


def _check_account(
    user: User, request: LoginRequest, known_address: bool, audit: AuditEntry
) -> list[str]:
    """App, lock, confirmation, password expiry, the app's right to send metadata, a password
    about to expire, forced change (Zato's order); returns the warnings. An automatic lock
    lets its owner in from a known address (the log-in then lifts it)."""
    policy = settings.ADMIT_POLICY
    if request.current_app not in policy.apps.login_allowed:
        raise AdmitError(Code.APP_INVALID, f"app {request.current_app!r} may not log users in")
    if user.is_locked and not (throttle.is_locked_automatically(user) and known_address):
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
    if (request.remote_addr or request.user_agent) and (
        request.current_app not in policy.apps.login_metadata_allowed
    ):
        raise AdmitError(
            Code.METADATA_NOT_ALLOWED,
            f"app {request.current_app!r} may not send remote_addr or user_agent",
        )
    warn_from = now + timedelta(days=policy.password.warn_days)
    if _expires_before(user, warn_from) and policy.password.about_to_expire == "refuse":
        raise AdmitError(Code.PASSWORD_ABOUT_TO_EXPIRE, "password about to expire")
    if user.password_must_change:
        if not request.new_password:
            raise AdmitError(Code.PASSWORD_MUST_CHANGE, "the password must be changed")
        fields = set_password(user, request.new_password)
        user.save(update_fields=fields)
        end_sessions_of(user)
        audit.extra_data["password_changed"] = True
    # A forced change has just set a new password, with its own expiry.
    return [Code.PASSWORD_EXPIRING] if _expires_before(user, warn_from) else []


def _expires_before(user: User, moment: datetime) -> bool:
    return user.password_expiry is not None and user.password_expiry <= moment


def logout(ust: str, current_app: str, caller: Caller) -> None:
    """Ends the session if there is one; answers the same either way."""
    with audited("logout", caller, app=current_app) as audit:
        session = session_for(ust)
        if session is not None:
            audit.target_user_id = session.user.user_id
            session.delete()
