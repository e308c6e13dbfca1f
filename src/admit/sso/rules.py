"""The sign-up validation rules of the seed, as configured in admit.toml.

Each check returns the codes it finds, so one answer can name every problem at once. Every
rule judges a username or an address by its unique key (NFKC, case-folded), not as typed,
and look-alikes are refused (``admit.core.names``); whitespace is refused in usernames and
e-mail addresses (never stripped) and kept as typed in passwords.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.module_loading import import_string

from admit.config import Policy
from admit.core.errors import Code
from admit.core.names import (
    contains_reserved,
    email_lookalike,
    normalize_email,
    normalize_username,
    username_lookalike,
)


@dataclass(frozen=True)
class SignupRequest:
    username: str
    password: str
    email: str
    current_app: str
    app_list: list[str] = field(default_factory=list)
    display_name: str = ""
    remote_addr: str = ""


def _has_whitespace(value: str) -> bool:
    return any(char.isspace() for char in value)


def operator_rules(policy: Policy) -> Policy:
    """The rules less the reserved words: those keep sign-ups from impersonating operators,
    not operators (or remote servers' admins) from naming accounts and addresses."""
    relaxed = replace(policy.user_validation, reject_username=(), reject_email=())
    return replace(policy, user_validation=relaxed)


def username_problems(username: str, policy: Policy) -> list[Code]:
    rules = policy.user_validation
    key = normalize_username(username)
    problems = []
    if _has_whitespace(username) or _has_whitespace(key):
        problems.append(Code.USERNAME_HAS_WHITESPACE)
    # The key may be longer than the name (NFKC expands some characters); both are stored.
    if max(len(username), len(key)) > rules.username_max_length:
        problems.append(Code.USERNAME_TOO_LONG)
    if (
        not key
        or username_lookalike(key) is not None
        or contains_reserved(key, rules.reject_username)
    ):
        problems.append(Code.USERNAME_INVALID)
    return problems


def email_problems(email: str, policy: Policy) -> list[Code]:
    rules = policy.user_validation
    if not email:
        return [Code.EMAIL_MISSING]
    key = normalize_email(email)
    problems = []
    if _has_whitespace(email) or _has_whitespace(key):
        problems.append(Code.EMAIL_HAS_WHITESPACE)
    if max(len(email), len(key)) > rules.email_max_length:
        problems.append(Code.EMAIL_TOO_LONG)
    # The address as typed is where mail goes, so it must be one; the rules judge its key.
    if not problems and (
        not _is_email(email)
        or email_lookalike(key) is not None
        or contains_reserved(key, rules.reject_email)
    ):
        problems.append(Code.EMAIL_INVALID)
    return problems


def _is_email(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


@cache
def _common_passwords() -> CommonPasswordValidator:
    return CommonPasswordValidator()


def password_problems(password: str, policy: Policy) -> list[Code]:
    rules = policy.password
    if len(password) < rules.min_length:
        return [Code.PASSWORD_TOO_SHORT]
    if len(password) > rules.max_length:
        return [Code.PASSWORD_TOO_LONG]
    try:
        _common_passwords().validate(password)
    except ValidationError:
        return [Code.PASSWORD_COMMON]
    return []


SignupHook = Callable[[SignupRequest], Iterable[Code | str] | None]


@cache
def load_hook(dotted_path: str) -> SignupHook:
    return import_string(dotted_path)


def _hook_problems(request: SignupRequest, policy: Policy) -> list[Code]:
    if not policy.signup.validation_hook:
        return []
    found = load_hook(policy.signup.validation_hook)(request) or []
    return [Code(code) if code in Code._value2member_map_ else Code.NOT_ALLOWED for code in found]


def signup_problems(request: SignupRequest, policy: Policy) -> list[Code]:
    return (
        username_problems(request.username, policy)
        + email_problems(request.email, policy)
        + password_problems(request.password, policy)
        + _hook_problems(request, policy)
    )
