"""The sign-up validation rules of the seed, as configured in admit.toml.

Each check returns the codes it finds, so one answer can name every problem at once. Every
rule judges a username or an address by its unique key (NFKC, case-folded), not as typed,
and look-alikes are refused (``admit.core.names``); whitespace is refused in usernames and
e-mail addresses (never stripped) and kept as typed in passwords.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string

from admit.config import Policy
from admit.core.emails import email_problems, operator_rules
from admit.core.errors import Code
from admit.core.names import (
    contains_reserved,
    has_whitespace,
    normalize_username,
    username_lookalike,
)

# The e-mail rules are core's, since the remote wing judges addresses too; the sign-up flows
# and the super-user's edits find them here with the rest.
__all__ = [
    "SignupHook",
    "SignupRequest",
    "email_problems",
    "load_hook",
    "local_path",
    "operator_rules",
    "password_problems",
    "signup_problems",
    "username_problems",
]


@dataclass(frozen=True)
class SignupRequest:
    username: str
    password: str
    email: str
    current_app: str
    app_list: list[str] = field(default_factory=list)
    display_name: str = ""
    remote_addr: str = ""
    # Where the person was going when they chose to sign up (``User.return_to``).
    return_to: str = ""


RETURN_TO_MAX_LENGTH = 2000


def local_path(wanted: str) -> str:
    """``wanted`` when it is a path on this site, else "".

    Only a path that starts with one "/", names no host (``//evil.example``, ``/\\evil.example``
    are hosts to a browser: Django's check sees them), is at most ``RETURN_TO_MAX_LENGTH``
    characters and is printable ASCII without spaces (a browser sends a path percent-encoded;
    anything else could break out of a plain-text e-mail's line). Cut short it would be
    another address, so a longer one is dropped, never truncated."""
    if not (0 < len(wanted) <= RETURN_TO_MAX_LENGTH) or not wanted.startswith("/"):
        return ""
    if any(not ("!" <= char <= "~") for char in wanted):
        return ""
    return wanted if url_has_allowed_host_and_scheme(wanted, allowed_hosts=set()) else ""


def username_problems(username: str, policy: Policy) -> list[Code]:
    rules = policy.user_validation
    key = normalize_username(username)
    problems = []
    if has_whitespace(username) or has_whitespace(key):
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


def signup_problems(
    request: SignupRequest, policy: Policy, username_taken: bool = False, email_taken: bool = False
) -> list[Code]:
    """Every problem of ``request``, the username's first, then the address's, the password's
    and the operator's hook's. Whether the username or the address is taken is the caller's
    to find out (a read); the caller decides whether a taken address may be told."""
    return (
        username_problems(request.username, policy)
        + ([Code.USERNAME_EXISTS] if username_taken else [])
        + (email_problems(request.email, policy) if _needs_email(request, policy) else [])
        + ([Code.EMAIL_EXISTS] if email_taken else [])
        + password_problems(request.password, policy)
        + _hook_problems(request, policy)
    )


def _needs_email(request: SignupRequest, policy: Policy) -> bool:
    """An address is checked when given, and required unless ``[signup] email_required`` is
    off (E002005 then)."""
    return bool(request.email) or policy.signup.email_required
