"""The rules an e-mail address must meet, as configured in admit.toml's ``[user_validation]``.

Both wings judge addresses with them: a sign-up and a super-user's edit (``admit.sso``), and
the address a remote server's admin confirms at a first log-in (``admit.remote``). An
address is judged by its unique key (NFKC, case-folded, ``admit.core.names``), not as typed;
whitespace is refused, never stripped.
"""

from __future__ import annotations

from dataclasses import replace

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from admit.config import Policy
from admit.core.errors import Code
from admit.core.names import contains_reserved, email_lookalike, has_whitespace, normalize_email


def operator_rules(policy: Policy) -> Policy:
    """The rules less the reserved words: those keep sign-ups from impersonating operators,
    not operators (or remote servers' admins) from naming accounts and addresses."""
    relaxed = replace(policy.user_validation, reject_username=(), reject_email=())
    return replace(policy, user_validation=relaxed)


def email_problems(email: str, policy: Policy) -> list[Code]:
    """Every code ``email`` earns under ``policy``; none for a good address."""
    rules = policy.user_validation
    if not email:
        return [Code.EMAIL_MISSING]
    key = normalize_email(email)
    problems = []
    if has_whitespace(email) or has_whitespace(key):
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


def masked(email: str) -> str:
    """``ada.lovelace@example.com`` as ``a•••e@example.com``: enough for its owner to know
    it, too little for someone else who sees the page to learn it."""
    local, at, domain = email.rpartition("@")
    if not at:
        return "•••"
    if len(local) <= 2:
        return f"{local[:1]}•••@{domain}"
    return f"{local[0]}•••{local[-1]}@{domain}"
