"""Pauses after repeated log-in failures on one username, growing with each failure.

Kept in the database (``LoginPause``) under a hash of the normalised username, so an unknown
username is paused exactly like a known one and the pause tells nobody whether an account
exists. After ``lockout_after`` consecutive failures each further failure pauses log-in for
``lockout_seconds`` doubled per failure, at most ``lockout_max_seconds``. Asking for a reset
link or a new code does not clear the count; only a successful log-in does. The log-in reads
the username's record in the same query as the user (``subject``, ``refuse_if_paused``).
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from admit.core import clock, rows
from admit.core.ratelimit import RateLimited, cache_key
from admit.sso.models import LoginPause


def subject(username_key: str) -> str:
    return cache_key("login-pause", username_key)


def refuse_if_paused(pause: LoginPause | None) -> bool:
    """Refuse while ``pause``, the username's record (None: it has none), lasts; True when the
    username has failures on record."""
    if not settings.ADMIT_POLICY.rate_limits.enabled or pause is None:
        return False
    left = (pause.paused_until - clock.now()).total_seconds()
    if left > 0:
        raise RateLimited(math.ceil(left), "log-in paused")
    return True


def ensure_not_paused(username_key: str) -> bool:
    return refuse_if_paused(LoginPause.objects.filter(subject=subject(username_key)).first())


def record_failure(username_key: str) -> None:
    rules = settings.ADMIT_POLICY.login
    now = clock.now()
    with transaction.atomic():
        key = subject(username_key)
        first = LoginPause(subject=key, failures=0, paused_until=now, expires_at=now)
        LoginPause.objects.bulk_create([first], ignore_conflicts=True)
        pause = LoginPause.objects.select_for_update().get(subject=key)
        pause.failures += 1
        pause.paused_until = now
        if pause.failures >= rules.lockout_after:
            growth = 2 ** min(pause.failures - rules.lockout_after, 32)
            seconds = min(rules.lockout_seconds * growth, rules.lockout_max_seconds)
            pause.paused_until = now + timedelta(seconds=seconds)
        pause.expires_at = now + timedelta(seconds=rules.lockout_max_seconds * 2)
        pause.save()


def clear(username_key: str) -> None:
    """Forget the username's failures, with the flow's other writes."""
    table = LoginPause._meta.db_table
    rows.execute_at_commit(f"DELETE FROM {table} WHERE subject = %s", [subject(username_key)])  # noqa: S608


def sweep_expired() -> int:
    return LoginPause.objects.filter(expires_at__lt=clock.now()).delete()[0]
