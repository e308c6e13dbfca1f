"""Password reset: an e-mailed token, exchanged for a short-lived reset key, then a new password.

1. ``request_reset(credential)`` always answers the same; when the username or e-mail address
   belongs to an account, its owner is e-mailed a one-time token.
2. ``open_reset(token)`` spends the token and returns a ``reset_key`` valid for a few minutes.
3. ``finish_reset(token, reset_key, password)`` sets the password, spends the key, ends every
   session of the user and e-mails a notice. The token went to the account's address and
   nowhere else, so a finished reset also proves that the address is the person's, if it is
   still their address (``User.email_verified``).

A token or key that cannot be used, for whatever reason, is E010001 (Zato's).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import Q

from admit.audit.log import audited
from admit.confirmations import engine as confirmations
from admit.confirmations.engine import ConfirmationError
from admit.confirmations.models import Confirmation
from admit.core import clock
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import Counter, hit
from admit.core.secrets import digest
from admit.mail.outbox import enqueue
from admit.sso import queries, throttle
from admit.sso.flows.sessions import end_sessions_of
from admit.sso.models import User, normalize_email, normalize_username
from admit.sso.passwords import set_password

RESET_TOKEN = "password_reset"
RESET_KEY = "password_reset_key"


# Every request takes at least this long, so the time taken does not tell whether the
# credential names an account (which costs a key, a rendered e-mail and two inserts more).
RESPONSE_FLOOR_SECONDS = 0.2


def request_reset(credential: str, current_app: str, caller: Caller) -> None:
    started = time.monotonic()
    try:
        _request_reset(credential, current_app, caller)
    finally:
        time.sleep(max(0.0, RESPONSE_FLOOR_SECONDS - (time.monotonic() - started)))


def _request_reset(credential: str, current_app: str, caller: Caller) -> None:
    """Rate limits that name no account: per client address, and per credential as typed from
    one address (both answer 429); and per credential as typed from anywhere, past which no
    more e-mails are sent (the answer does not change) except to a request from an address the
    account has logged in from, so that a stranger's requests never keep its owner from
    resetting."""
    limits = settings.ADMIT_POLICY.rate_limits
    typed = normalize_username(credential)
    with audited("password.reset_request", caller, app=current_app) as audit:
        if caller.remote_ip:
            hit("reset-address", caller.remote_ip, limits.emails_per_address)
            hit(
                "reset-credential-address",
                f"{typed}\n{caller.remote_ip}",
                limits.resets_per_credential_address,
            )
        user = (
            User.objects.filter(Q(username_key=typed) | Q(email_key=normalize_email(credential)))
            .order_by("id")
            .first()
        )
        within_limit = Counter(
            "reset-credential", typed, limits.reset_emails_per_credential
        ).claim()
        if user is None or not _may_reset(user):
            audit.extra_data["sent"] = False
            return
        audit.target_user_id = user.user_id
        if not within_limit and not queries.is_known_address(
            user, caller.remote_ip, throttle.known_since()
        ):
            audit.extra_data["sent"] = False
            audit.extra_data["held_back"] = "reset_emails_per_credential"
            return
        audit.extra_data["sent"] = True
        token = confirmations.create(user, RESET_TOKEN, proves_email_key=user.email_key)
        valid_for = _duration(settings.ADMIT_POLICY.reset.token_max_age)
        enqueue(
            "password_reset", user.email, {"user": user, "token": token, "valid_for": valid_for}
        )


def _may_reset(user: User) -> bool:
    """A confirmed, approved account that no super-user has locked: a lock that failed
    log-ins set is what a reset is for."""
    locked_by_operator = user.is_locked and not throttle.is_locked_automatically(user)
    return user.is_confirmed and user.is_approved and not locked_by_operator


def _duration(seconds: int) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@contextmanager
def _unusable_as_e010001() -> Iterator[None]:
    """Every refusal of a token or key is Zato's E010001 to the caller, whatever the reason
    (unknown, malformed, expired, spent, a key of another token); the audit keeps the true
    code (E005006, or E005007 for a spent one)."""
    try:
        yield
    except ConfirmationError as error:
        raise _unusable(error.codes, error.message) from error


def _unusable(codes: list[Code], message: str) -> AdmitError:
    return AdmitError(codes, message, shown=[Code.RESET_TOKEN_UNUSABLE])


def open_reset(token: str, caller: Caller) -> str:
    """Spends the e-mailed token; returns the reset key that goes with it."""
    with audited("password.reset_open", caller) as audit, _unusable_as_e010001():
        confirmation = confirmations.lookup(token, kinds=(RESET_TOKEN,))
        confirmations.spend(confirmation)
        user = User.objects.get(pk=confirmation.object_id)
        audit.target_user_id = user.user_id
        return confirmations.create(user, RESET_KEY)


def finish_reset(token: str, reset_key: str, password: str, caller: Caller) -> None:
    with audited("password.reset", caller) as audit, _unusable_as_e010001():
        key = confirmations.lookup(reset_key, kinds=(RESET_KEY,))
        opened = Confirmation.objects.filter(
            key_digest=digest(token),
            kind=RESET_TOKEN,
            object_id=key.object_id,
            used_at__lte=key.created_at,
        ).first()
        if opened is None:
            raise _unusable(
                [Code.NO_SUCH_CONFIRM_TOKEN], "the reset key does not go with this token"
            )
        user = User.objects.select_for_update().get(pk=key.object_id)
        audit.target_user_id = user.user_id
        # The new password also ends the username's pause and an automatic lock.
        changed = set_password(user, password) + throttle.clear_failures(user)
        user.save(update_fields=changed + user.prove_email(opened.proves_email_key))
        throttle.Guesses(user.username_key, caller.remote_ip).forgive()
        confirmations.spend(key)
        # Every other link and key of this user's resets dies with this one.
        confirmations.revoke(user, RESET_TOKEN)
        confirmations.revoke(user, RESET_KEY)
        end_sessions_of(user)
        enqueue("password_changed", user.email, {"user": user, "when": clock.now()})
