"""Users as Zato's SSO manages them: created by super-users, read, changed, locked, deleted,
given a password or a TOTP key. Search is ``admit.sso.flows.user_search``.

Who may do what is Zato's: a user reads and changes their own names, username, address and
TOTP switch; a super-user anyone's, and also the lock, approval, sign-up status and password
rules. A refusal for want of rights is E005001 to the caller (E005005 in the audit log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from admit.audit.log import audited
from admit.confirmations import engine as confirmations
from admit.core import clock, totp
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, InputError, RefusedByRule
from admit.core.secrets import new_public_id
from admit.sso import throttle
from admit.sso.flows.email_change import ask_to_confirm
from admit.sso.flows.sessions import end_sessions_of, live_session, superuser_for, user_for
from admit.sso.models import User, normalize_email, normalize_username
from admit.sso.passwords import set_password
from admit.sso.rules import email_problems, operator_rules, password_problems, username_problems
from admit.sso.second_factor import claim_code


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str = ""
    password: str = ""  # none: the user cannot log in until one is set
    display_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    is_superuser: bool = False  # the CLI's and the console's; Zato's REST creates none
    auto_approve: bool = False
    is_locked: bool = False
    password_must_change: bool = False
    is_totp_enabled: bool = False
    totp_label: str = ""
    totp_key: str = ""
    sign_up_status: str = "final"


def _operator_error(codes: Code | list[Code], message: str) -> AdmitError:
    """A refusal told in full: the ``inform_if_*`` switches keep anonymous callers from
    learning which names and addresses have accounts; a super-user may search them anyway."""
    codes = [codes] if isinstance(codes, Code) else codes
    return AdmitError(codes, message, shown=codes)


def _rights(message: str) -> AdmitError:
    return AdmitError(Code.SUPERUSER_REQUIRED, message)


def _display_name(new: NewUser) -> str:
    """Zato's rule: the display name given, else the first, middle and last names joined."""
    if new.display_name.strip():
        return new.display_name.strip()
    return " ".join(name for name in (new.first_name, new.middle_name, new.last_name) if name)


def _totp_key(key: str) -> str:
    """``key`` (base32 of at least 128 bits, RFC 4226 §4) tidied, or a new one."""
    key = key.replace(" ", "").upper() or totp.new_secret()
    if not totp.is_valid_secret(key):
        problem = "must be base32 of at least 128 bits"
        raise InputError(
            Code.INPUT_INVALID,
            f"totp_key {problem}",
            details=[{"field": "totp_key", "problem": problem}],
        )
    return key


def _insert(new: NewUser, approved: bool, creation_ctx: dict[str, str] | None = None) -> User:
    creation_ctx = creation_ctx or {"source": "create"}
    rules = operator_rules(settings.ADMIT_POLICY)
    problems = _name_problems(new.username, None) + (
        _address_problems(new.email, None) if new.email else []
    )
    if new.password:
        problems += password_problems(new.password, rules)
    if problems:
        raise _operator_error(problems, "user refused by the validation rules")
    now = clock.now()
    confirmed = new.sign_up_status != "before_confirmation"
    user = User(
        user_id=new_public_id("zusr"),
        username=new.username,
        username_key=normalize_username(new.username),
        email=new.email,
        email_key=normalize_email(new.email) if new.email else "",
        display_name=_display_name(new),
        first_name=new.first_name.strip(),
        middle_name=new.middle_name.strip(),
        last_name=new.last_name.strip(),
        is_superuser=new.is_superuser,
        sign_up_time=now,
        confirmed_at=now if confirmed else None,
        approval_status=User.Approval.APPROVED if approved else User.Approval.PENDING,
        approval_status_mod_time=now,
        approval_status_mod_by=creation_ctx.get("created_by", ""),
        creation_ctx=creation_ctx,
        totp_label=new.totp_label,
    )
    if new.is_locked:
        user.is_locked, user.locked_at, user.locked_by = True, now, user.approval_status_mod_by
    if new.password:
        set_password(user, new.password, must_change=new.password_must_change)
    else:
        user.set_unusable_password()
        user.password_must_change = new.password_must_change
    if new.is_totp_enabled or new.totp_key:
        user.totp_secret = totp.seal(_totp_key(new.totp_key))
        user.is_totp_enabled = new.is_totp_enabled
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        taken = Code.USERNAME_EXISTS
        if not User.with_held_signups.filter(username_key=user.username_key).exists():
            taken = Code.EMAIL_EXISTS
        raise _operator_error(taken, "username or e-mail address taken") from exc
    return user


def _name_problems(username: str, user: User | None) -> list[Code]:
    """The rules' problems with ``username`` for ``user`` (None: a new one), and whether
    another account or sign-up holds it: all of them, so that one answer names them all."""
    problems = username_problems(username, operator_rules(settings.ADMIT_POLICY))
    others = User.with_held_signups.filter(username_key=normalize_username(username))
    if user is not None:
        others = others.exclude(pk=user.pk)
    return problems + ([Code.USERNAME_EXISTS] if others.exists() else [])


def _address_problems(email: str, user: User | None, tell_taken: bool = True) -> list[Code]:
    """As ``_name_problems``, for an address; whether another account has it only when
    ``tell_taken``."""
    problems = email_problems(email, operator_rules(settings.ADMIT_POLICY))
    if tell_taken:
        others = User.objects.filter(email_key=normalize_email(email))
        if user is not None:
            others = others.exclude(pk=user.pk)
        problems += [Code.EMAIL_EXISTS] if others.exists() else []
    return problems


def create_superuser(username: str, email: str, password: str, caller: Caller) -> User:
    with audited("user.create_superuser", caller) as audit:
        new = NewUser(username, email, password, is_superuser=True)
        user = _insert(new, approved=True, creation_ctx={"source": "cli"})
        audit.target_user_id = user.user_id
        return user


def create_user(ust: str, new: NewUser, caller: Caller) -> User:
    """Zato's user creation: approved at once with ``auto_approve``, else as sign-ups are."""
    with audited("user.create", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        approved = new.auto_approve or not settings.ADMIT_POLICY.signup.approval_required
        ctx = {"source": "create", "created_by": admin.user_id}
        user = _insert(new, approved=approved, creation_ctx=ctx)
        audit.target_user_id = user.user_id
        return user


def get_user(ust: str, user_id: str = "") -> User:
    return read_user(ust, user_id)[0]


def read_user(ust: str, user_id: str = "") -> tuple[User, bool]:
    """The user asked for, and whether the caller is a super-user (who sees every field)."""
    caller = user_for(ust)
    if not user_id or user_id == caller.user_id:
        return caller, caller.is_superuser
    if not caller.is_superuser:
        raise _rights("only a super-user may read other users")
    return _existing(user_id, Code.NOT_ALLOWED), True


def _existing(user_id: str, missing: Code, for_update: bool = False) -> User:
    users = User.objects.select_for_update() if for_update else User.objects
    user = users.filter(user_id=user_id).first()
    if user is None:
        raise AdmitError(missing, "no such user", shown=[missing])
    return user


OWN_FIELDS = frozenset(
    {
        "username",
        "email",
        "display_name",
        "first_name",
        "middle_name",
        "last_name",
        "is_totp_enabled",
        "totp_label",
    }
)
SUPERUSER_FIELDS = frozenset(
    {"is_locked", "password_expiry", "password_must_change", "sign_up_status", "approval_status"}
)


def update_user(
    ust: str, changes: dict[str, Any], caller: Caller, user_id: str = "", totp_code: str = ""
) -> User:
    """Zato's PATCH /user: the fields of ``OWN_FIELDS`` for anyone on themselves, and
    ``SUPERUSER_FIELDS`` besides for a super-user on anyone."""
    with audited("user.update", caller) as audit:
        actor = user_for(ust)
        audit.actor_user_id = actor.user_id
        own = not user_id or user_id == actor.user_id
        if not actor.is_superuser and (not own or set(changes) - OWN_FIELDS):
            raise _rights("a super-user is required for this change")
        user = actor if own else _existing(user_id, Code.USER_ID_INVALID, for_update=True)
        audit.target_user_id = user.user_id
        audit.extra_data["fields"] = sorted(changes)
        if not changes:
            raise RefusedByRule(Code.INPUT_MISSING, "nothing to change")
        shuts_out = (
            changes.get("is_locked")
            or changes.get("approval_status") not in (None, "approved")
            or changes.get("sign_up_status") == "before_confirmation"
        )
        if own and shuts_out:
            raise AdmitError(
                Code.INVALID_OPERATION, "super-users cannot lock, unapprove or unconfirm themselves"
            )
        _check_names(user, changes, own)
        for name, value in changes.items():
            _apply(user, name, value, actor, own, totp_code)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            taken = Code.USERNAME_EXISTS if "username" in str(exc) else Code.EMAIL_EXISTS
            raise _operator_error(taken, "username or e-mail address taken") from exc
        if shuts_out and not user.is_active:
            # Locked by a super-user, or no longer approved or confirmed: the person's
            # sessions end, and with them the tokens the apps were given under them.
            end_sessions_of(user)
        return user


def _check_names(user: User, changes: dict[str, Any], own: bool) -> None:
    """A new username's and a new address's problems, all in one refusal. A user's own new
    address, while it waits for confirmation, is not said to be taken (the answer would tell
    anyone with a session whether an address has an account): confirming it says so."""
    problems = []
    if "username" in changes:
        problems += _name_problems(changes["username"], user)
    if "email" in changes:
        waits = own and settings.ADMIT_POLICY.user.confirm_email_change
        problems += _address_problems(changes["email"], user, tell_taken=not waits)
    if problems:
        raise _operator_error(problems, "username or e-mail address refused")


def _apply(user: User, name: str, value: Any, actor: User, own: bool, totp_code: str) -> None:
    now = clock.now()
    if name == "username":
        user.username, user.username_key = value, normalize_username(value)
    elif name == "email":
        if own and settings.ADMIT_POLICY.user.confirm_email_change:
            ask_to_confirm(user, value)  # applied once the new address confirms
        else:
            user.email, user.email_key = value, normalize_email(value)
    elif name == "is_totp_enabled":
        _switch_totp(user, value, own, totp_code)
    elif name == "approval_status":
        if value == "rejected":
            # A rejected sign-up is deleted (the seed): that is POST /user/reject's work.
            raise AdmitError(Code.INVALID_OPERATION, "reject with POST /zato/sso/user/reject")
        user.approval_status = User.Approval(value)
        user.approval_status_mod_time, user.approval_status_mod_by = now, actor.user_id
    elif name == "sign_up_status":
        user.confirmed_at = None if value == "before_confirmation" else user.confirmed_at or now
    elif name == "is_locked":
        _set_locked(user, value, actor)
    else:
        setattr(user, name, value)


def _switch_totp(user: User, on: bool, own: bool, totp_code: str) -> None:
    """Turning one's own TOTP on or off takes a code of the key (so a stolen session cannot
    turn it off, nor can anyone lock themselves out with a key they never saw); a super-user
    switches anyone's without one."""
    if on == user.is_totp_enabled:
        return
    if not user.totp_secret:
        raise AdmitError(
            Code.INVALID_OPERATION, "no TOTP key yet: PATCH /zato/sso/user/totp makes one"
        )
    if own:
        _require_code(user, totp_code)
    user.is_totp_enabled = on


def _require_code(user: User, code: str) -> None:
    if not code:
        raise AdmitError(Code.TOTP_CODE_MISSING, "a code from the current key is required")
    if not claim_code(user, code):
        raise AdmitError(
            Code.TOTP_CODE_INVALID, "wrong, expired or already used code", shown=[Code.NOT_ALLOWED]
        )


def _set_locked(user: User, locked: bool, actor: User) -> None:
    user.is_locked = locked
    # As Zato, the time and the actor are kept for unlocking too.
    user.locked_at = clock.now()
    user.locked_by = actor.user_id
    if not locked:
        user.failed_logins = 0
        # The operator's unlock also lifts the username's pause after failed log-ins.
        throttle.Guesses(user.username_key, None).forgive()


def set_lock(ust: str, user_id: str, locked: bool, caller: Caller) -> None:
    """Lock (ending every session of the user) or unlock an account."""
    with audited("user.lock" if locked else "user.unlock", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        user = _existing(user_id, Code.USER_ID_INVALID, for_update=True)
        audit.target_user_id = user.user_id
        if user.pk == admin.pk:
            raise AdmitError(Code.INVALID_OPERATION, "super-users cannot lock themselves")
        _set_locked(user, locked, admin)
        user.save(update_fields=["is_locked", "locked_at", "locked_by", "failed_logins"])
        if locked:
            end_sessions_of(user)


def delete_user(ust: str, user_id: str, caller: Caller) -> None:
    """Zato's DELETE /user: an unknown user, or oneself, is E008001."""
    with audited("user.delete", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        user = _existing(user_id, Code.INVALID_OPERATION, for_update=True)
        audit.target_user_id = user.user_id
        if user.pk == admin.pk:
            raise AdmitError(Code.INVALID_OPERATION, "super-users cannot delete themselves")
        confirmations.forget(user)
        user.delete()


def change_password(
    ust: str,
    new_password: str,
    caller: Caller,
    old_password: str = "",
    user_id: str = "",
    expiry_days: int | None = None,
    must_change: bool = False,
) -> None:
    """Own password (the old one required), or, for a super-user, anyone's, with a life of
    ``expiry_days`` (0: forever; below 0 or None: ``[password] expiry_days``) and the
    must-change flag. A regular user's ``expiry_days`` and ``must_change`` are ignored, as
    Zato ignores them. Every other session of that user ends."""
    with audited("user.password", caller) as audit:
        session = live_session(ust)
        actor = session.user
        audit.actor_user_id = actor.user_id
        own = not user_id or user_id == actor.user_id
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
                raise _rights("only a super-user may set others' passwords")
            user = _existing(user_id, Code.USER_ID_INVALID, for_update=True)
        audit.target_user_id = user.user_id
        by_superuser = actor.is_superuser and not own
        expiry: datetime | None = None
        if by_superuser and expiry_days is not None and expiry_days > 0:
            expiry = clock.now() + timedelta(days=expiry_days)
        fields = set_password(
            user, new_password, must_change=by_superuser and must_change, expiry=expiry
        )
        if by_superuser and expiry_days == 0:
            user.password_expiry = None
        user.save(update_fields=fields)
        end_sessions_of(user, keep=session if own else None)


def reset_totp_key(
    ust: str, totp_key: str, totp_label: str, caller: Caller, user_id: str = "", totp_code: str = ""
) -> tuple[User, str]:
    """Zato's PATCH /user/totp: a new key (given, or generated) for oneself or, for a
    super-user, anyone; returns the user and the key. It does not switch TOTP on or off.
    Replacing one's own key while TOTP is on takes a code of the current key, so a stolen
    session cannot swap the second factor."""
    with audited("user.totp", caller) as audit:
        actor = user_for(ust)
        audit.actor_user_id = actor.user_id
        own = not user_id or user_id == actor.user_id
        if not own and not actor.is_superuser:
            raise _rights("only a super-user may reset others' TOTP keys")
        user = actor if own else _existing(user_id, Code.USER_ID_INVALID, for_update=True)
        audit.target_user_id = user.user_id
        if own and user.is_totp_enabled:
            _require_code(user, totp_code)
        key = _totp_key(totp_key)
        user.totp_secret = totp.seal(key)
        user.totp_label = totp_label or user.totp_label
        user.totp_last_step = None
        user.save(update_fields=["totp_secret", "totp_label", "totp_last_step"])
        return user, key


def enable_totp(
    ust: str, totp_key: str, totp_label: str, caller: Caller, totp_code: str = ""
) -> str:
    """The account page's step: a key the person has just proved they hold (a code of it
    was checked by the page) becomes theirs and TOTP is on. Replacing a key that is on needs
    a code from the current one."""
    with audited("user.totp", caller) as audit:
        user = user_for(ust)
        audit.target_user_id = user.user_id
        if user.is_totp_enabled:
            _require_code(user, totp_code)
        key = _totp_key(totp_key)
        user.totp_secret = totp.seal(key)
        user.totp_label = totp_label or user.username
        user.totp_last_step = None
        user.is_totp_enabled = True
        user.save(update_fields=["totp_secret", "totp_label", "totp_last_step", "is_totp_enabled"])
        return key
