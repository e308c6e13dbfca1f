"""Setting a user's password: the policy's rules, its expiry, and the hash."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from admit.core import clock
from admit.core.errors import AdmitError
from admit.sso.models import User
from admit.sso.rules import password_problems


def check_new_password(password: str) -> None:
    problems = password_problems(password, settings.ADMIT_POLICY)
    if problems:
        raise AdmitError(problems, "new password refused by the password rules")


def set_password(
    user: User, password: str, must_change: bool = False, expiry: datetime | None = None
) -> list[str]:
    """Validates and hashes ``password`` into ``user`` (not saved); returns the changed fields.

    Without an explicit ``expiry`` the password lives ``[password] expiry_days`` (0: forever).
    """
    check_new_password(password)
    now = clock.now()
    days = settings.ADMIT_POLICY.password.expiry_days
    user.set_password(password)
    user.password_last_set = now
    user.password_must_change = must_change
    user.password_expiry = expiry or (now + timedelta(days=days) if days else None)
    return ["password", "password_last_set", "password_must_change", "password_expiry"]
