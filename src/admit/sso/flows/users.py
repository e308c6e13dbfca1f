"""Users: made by operators, read, changed, searched, locked and deleted."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from admit.audit.log import audited
from admit.confirmations import engine as confirmations
from admit.core import clock, totp
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError
from admit.core.secrets import new_public_id
from admit.sso import throttle
from admit.sso.flows.sessions import end_sessions_of, live_session, superuser_for, user_for
from admit.sso.models import User, normalize_email, normalize_username
from admit.sso.passwords import set_password
from admit.sso.rules import email_problems, operator_rules, password_problems, username_problems
from admit.sso.second_factor import claim_code


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str
    password: str
    display_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    is_superuser: bool = False
    auto_approve: bool = False
    password_must_change: bool = False


def _operator_error(codes: Code | list[Code], message: str) -> AdmitError:
    """A refusal told in full: the ``inform_if_*`` switches keep anonymous callers from
    learning which names and addresses have accounts; a super-user may search them anyway."""
    codes = [codes] if isinstance(codes, Code) else codes
    return AdmitError(codes, message, shown=codes)


def _insert(new: NewUser, approved: bool) -> User:
    rules = operator_rules(settings.ADMIT_POLICY)
    problems = (
        username_problems(new.username, rules)
        + email_problems(new.email, rules)
        + password_problems(new.password, rules)
    )
    if problems:
        raise _operator_error(problems, "user refused by the validation rules")
    now = clock.now()
    user = User(
        user_id=new_public_id("zusr"),
        username=new.username,
        username_key=normalize_username(new.username),
        email=new.email,
        email_key=normalize_email(new.email),
        display_name=new.display_name,
        first_name=new.first_name,
        middle_name=new.middle_name,
        last_name=new.last_name,
        is_superuser=new.is_superuser,
        sign_up_time=now,
        confirmed_at=now,
        approval_status=User.Approval.APPROVED if approved else User.Approval.PENDING,
        approval_status_mod_time=now if approved else None,
    )
    set_password(user, new.password, must_change=new.password_must_change)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        taken = Code.USERNAME_EXISTS
        if not User.objects.filter(username_key=user.username_key).exists():
            taken = Code.EMAIL_EXISTS
        raise _operator_error(taken, "username or e-mail address taken") from exc
    return user


def create_superuser(username: str, email: str, password: str, caller: Caller) -> User:
    with audited("user.create_superuser", caller) as audit:
        user = _insert(NewUser(username, email, password, is_superuser=True), approved=True)
        audit.target_user_id = user.user_id
        return user


def create_user(ust: str, new: NewUser, caller: Caller) -> User:
    """The seed's "user creation": no confirmation; approved at once with ``auto_approve``."""
    with audited("user.create", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        user = _insert(new, approved=new.auto_approve)
        audit.target_user_id = user.user_id
        return user


def get_user(ust: str, user_id: str = "") -> User:
    caller = user_for(ust)
    if not user_id or user_id == caller.user_id:
        return caller
    if not caller.is_superuser:
        raise AdmitError(Code.SUPERUSER_REQUIRED, "only a super-user may read other users")
    return _existing(user_id)


def _existing(user_id: str, for_update: bool = False) -> User:
    users = User.objects.select_for_update() if for_update else User.objects
    user = users.filter(user_id=user_id).first()
    if user is None:
        raise AdmitError(Code.NOT_ALLOWED, "no such user")
    return user


OWN_FIELDS = ("display_name", "first_name", "middle_name", "last_name")
SUPERUSER_FIELDS = ("email", "is_approved", "is_locked", "password_must_change")


def update_user(ust: str, changes: dict[str, Any], caller: Caller, user_id: str = "") -> User:
    """A user changes their own names; a super-user also anyone's e-mail and status fields."""
    with audited("user.update", caller) as audit:
        actor = user_for(ust)
        audit.actor_user_id = actor.user_id
        own = not user_id or user_id == actor.user_id
        if not actor.is_superuser and (not own or set(changes) - set(OWN_FIELDS)):
            raise AdmitError(Code.SUPERUSER_REQUIRED, "a super-user is required for this change")
        user = actor if own else _existing(user_id, for_update=True)
        audit.target_user_id = user.user_id
        audit.extra_data["fields"] = sorted(changes)
        if own and (changes.get("is_locked") is True or changes.get("is_approved") is False):
            raise AdmitError(Code.NOT_ALLOWED, "super-users cannot lock or unapprove themselves")
        for name, value in changes.items():
            _apply(user, name, value, actor)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise _operator_error(Code.EMAIL_EXISTS, "e-mail address taken") from exc
        if user.is_locked:
            end_sessions_of(user)
        return user


def _apply(user: User, name: str, value: Any, actor: User) -> None:
    if name == "email":
        problems = email_problems(value, operator_rules(settings.ADMIT_POLICY))
        if problems:
            raise _operator_error(problems, "e-mail address refused")
        user.email, user.email_key = value, normalize_email(value)
    elif name == "is_approved":
        user.approval_status = User.Approval.APPROVED if value else User.Approval.PENDING
        user.approval_status_mod_time, user.approval_status_mod_by = (
            (clock.now(), actor.user_id) if value else (None, "")
        )
    elif name == "is_locked":
        _set_locked(user, value, actor)
    else:
        setattr(user, name, value)


def _set_locked(user: User, locked: bool, actor: User) -> None:
    user.is_locked = locked
    user.locked_at = clock.now() if locked else None
    user.locked_by = actor.user_id if locked else ""
    if not locked:
        user.failed_logins = 0
        # The operator's unlock also lifts the username's pause after failed log-ins.
        throttle.Guesses(user.username_key, None).forgive()


def set_lock(ust: str, user_id: str, locked: bool, caller: Caller) -> None:
    """Lock (ending every session of the user) or unlock an account."""
    with audited("user.lock" if locked else "user.unlock", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        user = _existing(user_id, for_update=True)
        audit.target_user_id = user.user_id
        if user.pk == admin.pk:
            raise AdmitError(Code.NOT_ALLOWED, "super-users cannot lock themselves")
        _set_locked(user, locked, admin)
        user.save(update_fields=["is_locked", "locked_at", "locked_by", "failed_logins"])
        if locked:
            end_sessions_of(user)


def delete_user(ust: str, user_id: str, caller: Caller) -> None:
    with audited("user.delete", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        user = _existing(user_id, for_update=True)
        audit.target_user_id = user.user_id
        if user.pk == admin.pk:
            raise AdmitError(Code.NOT_ALLOWED, "super-users cannot delete themselves")
        confirmations.forget(user)
        user.delete()


def change_password(
    ust: str,
    new_password: str,
    caller: Caller,
    old_password: str = "",
    user_id: str = "",
    expiry: datetime | None = None,
    must_change: bool = False,
) -> None:
    """Own password (the old one required), or, for a super-user, anyone's with an optional
    expiry and must-change flag. Every other session of that user ends."""
    with audited("user.password", caller) as audit:
        session = live_session(ust)
        actor = session.user
        audit.actor_user_id = actor.user_id
        own = not user_id or user_id == actor.user_id
        if not actor.is_superuser and (expiry is not None or must_change):
            # Otherwise anyone could give their own password a life beyond [password] expiry_days.
            raise AdmitError(
                Code.SUPERUSER_REQUIRED, "only a super-user may set an expiry or must-change"
            )
        if own:
            user = actor
            # Guesses of the old password through a stolen session are throttled like log-ins.
            guesses = throttle.Guesses(actor.username_key, caller.remote_ip)
            guesses.admit(known_address=False)
            if not actor.check_password(old_password):
                raise AdmitError(Code.NOT_ALLOWED, "the old password is wrong")
            guesses.credentials_were_right()
            guesses.succeeded()
        else:
            if not actor.is_superuser:
                raise AdmitError(
                    Code.SUPERUSER_REQUIRED, "only a super-user may set others' passwords"
                )
            user = _existing(user_id, for_update=True)
        audit.target_user_id = user.user_id
        user.save(
            update_fields=set_password(
                user, new_password, must_change=must_change and not own, expiry=expiry
            )
        )
        end_sessions_of(user, keep=session if own else None)


def enable_totp(
    ust: str, totp_key: str, totp_label: str, caller: Caller, totp_code: str = ""
) -> str:
    """Turns on TOTP for the caller; a key is generated when none is given. Returns the key.

    Replacing a key needs a code from the current one, so a stolen session cannot swap the
    second factor."""
    with audited("user.totp", caller) as audit:
        user = user_for(ust)
        audit.target_user_id = user.user_id
        if user.is_totp_enabled:
            if not totp_code:
                raise AdmitError(Code.TOTP_CODE_MISSING, "a code from the current key is required")
            if not claim_code(user, totp_code):
                raise AdmitError(
                    Code.TOTP_CODE_INVALID,
                    "wrong, expired or already used TOTP code",
                    shown=[Code.NOT_ALLOWED],
                )
        key = totp_key.replace(" ", "").upper() or totp.new_secret()
        if not totp.is_valid_secret(key):
            # Malformed input, like any other field of the wrong shape: HTTP 400 with details.
            problem = "must be base32 of at least 128 bits"
            raise InputError(
                Code.INPUT_INVALID,
                f"totp_key {problem}",
                details=[{"field": "totp_key", "problem": problem}],
            )
        user.totp_secret = totp.seal(key)
        user.totp_label = totp_label or user.username
        user.totp_last_step = None
        user.is_totp_enabled = True
        user.save(update_fields=["totp_secret", "totp_label", "totp_last_step", "is_totp_enabled"])
        return key


SEARCH_FIELDS = (
    "user_id",
    "username",
    "email",
    "display_name",
    "first_name",
    "middle_name",
    "last_name",
)


@dataclass(frozen=True)
class SearchPage:
    users: list[User]
    total: int
    num_pages: int
    page: int
    has_next: bool
    has_previous: bool


def search_users(
    ust: str,
    criteria: dict[str, str],
    match: Literal["exact", "contains"],
    page: int,
    page_size: int,
    sign_up_status: Literal["", "to-confirm", "confirmed"] = "",
    approval_status: Literal["", "before_decision", "approved"] = "",
) -> SearchPage:
    superuser_for(ust)
    found: QuerySet[User] = User.objects.all()
    for name, value in criteria.items():
        if name not in SEARCH_FIELDS:
            raise AdmitError(Code.INPUT_INVALID, f"cannot search by {name}")
        lookup = "iexact" if match == "exact" else "icontains"
        found = found.filter(Q(**{f"{name}__{lookup}": value}))
    if sign_up_status:
        found = found.filter(confirmed_at__isnull=sign_up_status == "to-confirm")
    if approval_status:
        found = found.filter(approval_status=approval_status)
    total = found.count()
    start = (page - 1) * page_size
    users = list(found.order_by("sign_up_time", "id")[start : start + page_size])
    num_pages = max(1, math.ceil(total / page_size))
    return SearchPage(users, total, num_pages, page, page < num_pages, page > 1)
