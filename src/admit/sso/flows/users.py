"""Users made by operators rather than by sign-up."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from admit.audit.log import audited
from admit.core import clock
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.secrets import new_public_id
from admit.sso.models import User, normalize_email, normalize_username
from admit.sso.rules import email_problems, password_problems, username_problems


def create_superuser(username: str, email: str, password: str, caller: Caller) -> User:
    """A confirmed, approved super-user. The reserved words (``admin``…) are allowed here:
    they keep sign-ups from impersonating operators, not operators from naming themselves."""
    policy = settings.ADMIT_POLICY
    with audited("user.create_superuser", caller) as audit:
        rules = replace(
            policy,
            user_validation=replace(policy.user_validation, reject_username=(), reject_email=()),
        )
        problems = (
            username_problems(username, rules)
            + email_problems(email, rules)
            + password_problems(password, rules)
        )
        if problems:
            raise AdmitError(problems, "super-user refused by the validation rules")
        now = clock.now()
        user = User(
            user_id=new_public_id("zusr"),
            username=username,
            username_key=normalize_username(username),
            email=email,
            email_key=normalize_email(email),
            password=make_password(password),
            is_superuser=True,
            approval_status=User.Approval.APPROVED,
            sign_up_time=now,
            confirmed_at=now,
            approved_at=now,
        )
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise AdmitError(
                [Code.USERNAME_EXISTS, Code.EMAIL_EXISTS], "username or e-mail taken"
            ) from exc
        audit.target_user_id = user.user_id
        return user
